#!/usr/bin/perl
# sandbox - how long the test world takes to start and stop (every
# integration test pays it). Baseline: PostgreSQL's initdb + start alone,
# the slowest single server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;

my (@start, @stop, @pg);
for (1 .. 3) {
    my $sb = Sandbox->new;
    my $t = time;
    $sb->pki;
    my $t_pg = time;
    $sb->postgres;
    push @pg, time - $t_pg;
    $sb->slapd;
    my $dc = $sb->dovecot(users => { 'u@a.mssante.test' => 'x' });
    $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
                 lmtp => "inet:127.0.0.1:$dc->{lmtp_port}");
    push @start, time - $t;
    $t = time;
    $sb->stop;
    push @stop, time - $t;
}
sub median { my @s = sort { $a <=> $b } @_; return $s[@s / 2] }
printf "start (PKI, PostgreSQL, slapd, Dovecot, Postfix), median of 3\t%.2f s\t%.2f s\t-\t-\n",
    median(@start), median(@pg);
printf "stop, median of 3\t%.2f s\t-\t-\t-\n", median(@stop);
