#!/usr/bin/perl
# A PostgreSQL outage is a temporary failure on every protocol. Postfix's
# Dovecot SASL client answers 535 to any failure Dovecot reports (shown
# here on a listener connected to Dovecot directly); through
# mssante-sasl-proxy it answers 454 4.7.0, so clients keep their password
# and retry. 300 submissions by 10 clients with PostgreSQL stopped for 20 s
# in the middle: no 535, every message accepted is delivered exactly once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use OtpWorld;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($dc, $acct) = OtpWorld::setup($sb, n => 10, dovecot => {
    extra => "service auth {\n  unix_listener auth-smtp {\n    mode = 0666\n  }\n}\n" });
my ($pg) = $sb->migrated;
my $proxy = $sb->milter(bin => $sb->bin('mssante-sasl-proxy'), name => 'saslproxy',
    args => ['-o', "sasl_proxy_dovecot=$dc->{dir}/run/auth-smtp", '-u', 'postfix']);
my @sasl = ('smtpd_sasl_auth_enable=yes', 'smtpd_sasl_type=dovecot',
            'smtpd_recipient_restrictions=permit_sasl_authenticated,reject');
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
    recipients => [map { "$_->{login}\@a.mssante.test" } @$acct], lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    smtpd_args => [@sasl, "smtpd_sasl_path=$dc->{dir}/run/auth-smtp"],          # Dovecot directly
    submission => { args => [@sasl, "smtpd_sasl_path=$proxy->{path}"] });      # through the proxy

# submit - one message with AUTH PLAIN; the reply code to AUTH (235, 454,
# 535...) or to the message when AUTH passed (250 accepted), and the transcript
sub submit {
    my ($port, $a, $subject, $pass) = @_;
    my ($rc, $t) = Sandbox::swaks('127.0.0.2', $port, auth => [$a->{login}, $pass // $a->{device}],
        from => "$a->{login}\@a.mssante.test", to => ["$a->{login}\@a.mssante.test"], subject => $subject);
    my ($auth) = $t =~ /AUTH PLAIN[^\n]*\n<[~*]*\s+(\d{3})/;
    return ($rc == 0 ? 250 : $auth // 0, $t);
}
my $one = $acct->[0];

my ($code, $t) = submit($pf->{submission_port}, $one, 'proxy-ok');
is($code, 250, 'through the proxy: a device password is accepted and the message too') or diag $t;
($code, $t) = submit($pf->{submission_port}, $one, 'proxy-wrong', 'd1-wrong-password');
is($code, 535, 'a wrong password: 535 5.7.8, as without the proxy') or diag $t;

$pg->{stop}->() or die 'pg stop';
($code, $t) = submit($pf->{smtp_port}, $one, 'direct-down');
is($code, 535, 'PostgreSQL down, Postfix connected to Dovecot directly: 535 (Postfix 3.7 reads every failure as a wrong password)')
    or diag $t;
($code, $t) = submit($pf->{submission_port}, $one, 'proxy-down');
is($code, 454, 'PostgreSQL down, through the proxy: 454') or diag $t;
like($t, qr/454 4\.7\.0 Temporary authentication failure/, 'with "454 4.7.0 Temporary authentication failure"');
like(Sandbox::slurp($proxy->{log}), qr/Dovecot auth answered a temporary failure/, 'the proxy says why it closed');
$pg->{start}->();
($code, $t) = submit($pf->{submission_port}, $one, 'proxy-back');
is($code, 250, 'PostgreSQL back: the next submission logs in') or diag $t;

# --- 300 submissions, PostgreSQL stopped for 20 s after about 100
my $acc = "$dir/accepted";
my @kids;
for my $k (0 .. 9) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my %n = (250 => 0, 454 => 0, 535 => 0, other => 0);
        for my $i (1 .. 30) {
            my $id = "outage-$k-$i";
            my $end = time + 240;
            while (time < $end) {
                my ($c) = submit($pf->{submission_port}, $acct->[$k], $id);
                $n{ exists $n{$c} ? $c : 'other' }++;
                if ($c == 250) {
                    open my $fh, '>>', $acc; print $fh "$id\n"; close $fh;
                    last;
                }
                last if $c == 535;                      # a client would ask for the password
                sleep 0.2;                              # the client's own back-off
            }
        }
        Sandbox::write_file("$dir/counts.$k", join ' ', map { "$_=$n{$_}" } sort keys %n);
        exit 0;
    }
    push @kids, $pid;
}
my $t0 = time;
sleep 0.1 until (() = Sandbox::slurp($acc) =~ /\n/g) >= 100 || time - $t0 > 120;
$pg->{stop}->() or die 'pg stop';
my $down = time;
sleep 0.2 while time - $down < 20;                      # the outage itself
$pg->{start}->();
waitpid $_, 0 for @kids;
my %tot;
for my $k (0 .. 9) {
    my %n = Sandbox::slurp("$dir/counts.$k") =~ /(\w+)=(\d+)/g;
    $tot{$_} += $n{$_} for keys %n;
}
my @accepted = split /\n/, Sandbox::slurp($acc);
ok($sb->postqueue_empty($pf, 60), 'the queue drained') or diag Sandbox::tail($pf->{maillog});
my %seen;
for my $f (glob("$dc->{maildir}/a.mssante.test/*/new/*")) {
    $seen{$1}++ if Sandbox::slurp($f) =~ /^Subject: (outage-\d+-\d+)\r?$/m;
}
my $lost = grep { !$seen{$_} } @accepted;
my $dup = grep { $_ > 1 } values %seen;
diag sprintf 'outage: 300 messages, %d AUTH attempts: %d accepted, %d x 454, %d x 535, %d other; delivered %d, lost %d, duplicates %d',
    $tot{250} + $tot{454} + $tot{535} + $tot{other}, $tot{250}, $tot{454}, $tot{535}, $tot{other},
    scalar(keys %seen), $lost, $dup;
is($tot{535}, 0, 'no 535 while PostgreSQL was down: nobody was told the password is wrong');
ok($tot{454} > 0, 'the outage was seen as 454 (temporary)');
is(scalar @accepted, 300, 'every message was accepted in the end');
is($lost, 0, 'none lost');
is($dup, 0, 'none delivered twice');
is(scalar(keys %seen), 300, 'each of the 300 delivered');
$proxy->{stop}->();
unlike(Sandbox::slurp($proxy->{log}), qr/LeakSanitizer|AddressSanitizer|runtime error/,
       'the proxy ran its ~500 sessions and stopped with no sanitizer report');
like(Sandbox::slurp($proxy->{log}), qr/stopped$/m, 'and stopped cleanly on SIGTERM');
done_testing;
