#!/usr/bin/perl
# dovecot-auth-otp under load: 4 parallel IMAP clients, 500 logins each with
# valid credentials (every account once with a fresh TOTP code, the rest
# with device passwords): none may be refused, and the audit trail has one
# "ok" row per login.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;
use OtpWorld;

my $CLIENTS = 4;
my $PER_CLIENT = 500;
my $TOTP_PER_CLIENT = 100;
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($dc, $acct) = OtpWorld::setup($sb, n => $CLIENTS * $TOTP_PER_CLIENT);
my ($pg) = $sb->migrated;

my @pids;
for my $c (0 .. $CLIENTS - 1) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';              # a closed connection is a refusal to report, not a silent death
        my @mine = @$acct[$c * $TOTP_PER_CLIENT .. ($c + 1) * $TOTP_PER_CLIENT - 1];
        my ($ok, $refused) = (0, 0);
        for my $i (0 .. $PER_CLIENT - 1) {
            my $a = $mine[$i % @mine];
            # First round: each account's password + a fresh code; then device passwords.
            my $pass = $i < @mine ? $OtpWorld::PASSWORD . OtpWorld::code($a->{secret}) : $a->{device};
            my $imap = eval { $sb->imap($dc->{imap_port}, $a->{login}, $pass) };
            if ($imap && $imap->login_ok) {
                $ok++;
            } else {
                $refused++;
                print STDERR "# refused: $a->{login} ", ($i < @mine ? 'totp' : 'device'), ': ',
                    ($imap ? $imap->login_text : $@), "\n";
            }
            $imap->logout if $imap;
        }
        Sandbox::write_file("$dir/client-$c", "$ok $refused\n");
        exit 0;                             # the sandbox is the parent's to stop
    }
    push @pids, $pid;
}
my @status = map { waitpid $_, 0; $? } @pids;
my ($ok, $refused) = (0, 0);
for my $c (0 .. $CLIENTS - 1) {
    my ($o, $r) = Sandbox::slurp("$dir/client-$c") =~ /(\d+) (\d+)/;
    ok(defined $o, "client $c finished its logins") or diag("wait status $status[$c]");
    $ok += $o // 0;
    $refused += $r // 0;
}
is($ok + $refused, $CLIENTS * $PER_CLIENT, "$CLIENTS clients made $PER_CLIENT logins each");
is($refused, 0, 'no valid login was refused');
my $rows = $pg->{psql}->("SELECT count(*) FROM audit_event WHERE action = 'login' AND result = 'ok'");
chomp $rows;
is($rows, $CLIENTS * $PER_CLIENT, 'one "ok" audit row per login');
done_testing();
