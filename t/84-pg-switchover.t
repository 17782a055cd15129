#!/usr/bin/perl
# Several MX hosts share one PostgreSQL run with a streaming standby: the
# passdb's conninfo names both hosts with target_session_attrs=read-write.
# A switchover (primary stopped, standby promoted) under a login loop: no
# wrong password ever accepted, the right one never called wrong (only
# temporary failures while it happens), logins again within 10 s of the
# promotion, and a TOTP code used before the switch still refused after it.
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
my $pg = $sb->postgres;
my $st = $sb->postgres_standby;
my (undef, $conf) = $sb->migrated;
my $both = "host=$pg->{socket_dir},$st->{socket_dir} port=$pg->{port},$st->{port}"
         . " user=mssante dbname=mssante target_session_attrs=read-write";
Sandbox::write_file($conf, "database = $both\ndb_connect_timeout = 5s\n");
my ($dc, $acct) = OtpWorld::setup($sb, n => 2);
my ($jean, $other) = @$acct;
my $on_standby = sub { my $r = $st->{psql}->($_[0], "host=$st->{socket_dir} port=$st->{port} user=postgres dbname=mssante"); chomp $r; $r };
my $on_primary = sub { my $r = $pg->{psql}->($_[0]); chomp $r; $r };

# login - one IMAP login: OK, NO (refused) or TEMP (temporary failure)
sub login {
    my ($user, $pass) = @_;
    my $imap = eval { $sb->imap($dc->{imap_port}, $user, $pass) } or return 'ERR';
    my $t = $imap->login_text;
    $imap->logout;
    return $imap->login_ok ? 'OK' : $t =~ /\[UNAVAILABLE\]|Temporary/ ? 'TEMP' : 'NO';
}

is(login($jean->{login}, $jean->{device}), 'OK', 'a login through the multi-host conninfo');
# A code used now, to be replayed after the switch (valid for the next 60 s at least).
my $code = OtpWorld::code_at($jean->{secret}, time + 30);
is(login($jean->{login}, $OtpWorld::PASSWORD . $code), 'OK', 'password + TOTP code before the switch');
my $step = $on_primary->("SELECT last_step FROM otp_state o JOIN account a ON a.id = o.account_id WHERE login = '$jean->{login}'");
my $end = time + 20;
sleep 0.1 until $on_standby->("SELECT coalesce(max(last_step), 0) FROM otp_state o JOIN account a ON a.id = o.account_id"
                              . " WHERE login = '$jean->{login}'") == $step || time > $end;
is($on_standby->("SELECT last_step FROM otp_state o JOIN account a ON a.id = o.account_id WHERE login = '$jean->{login}'"),
   $step, 'the standby has the replay state');

# The loop: the right device password of one doctor, a wrong one of the other.
my $loglines = "$dir/loop.log";
my $stopfile = "$dir/loop.stop";
my $kid = fork // die "fork: $!";
if ($kid == 0) {
    open my $fh, '>', $loglines or die;
    $fh->autoflush(1);
    until (-e $stopfile) {
        printf $fh "%.3f right %s\n", time, login($jean->{login}, $jean->{device});
        printf $fh "%.3f wrong %s\n", time, login($other->{login}, $other->{device} . 'x');
    }
    exit 0;
}
sleep 0.1 until (() = Sandbox::slurp($loglines) =~ /right OK/g) >= 5;   # the loop is under way
my $t_stop = time;
$pg->{stop}->() or die 'stopping the primary';
# Only the read-only standby is up: the loop must see temporary failures.
my $end_wait = time + 20;
sleep 0.1 until (() = grep { /^(\S+) right TEMP$/ && $1 > $t_stop } split /\n/, Sandbox::slurp($loglines)) >= 2
    || time > $end_wait;
ok(scalar(grep { /^(\S+) right TEMP$/ && $1 > $t_stop } split /\n/, Sandbox::slurp($loglines)) >= 2,
   'while only the read-only standby runs, logins get temporary failures');
ok($st->{promote}->(), 'the standby is promoted');
my $t_promoted = time;
# oks_after - right-password successes logged after a time
sub oks_after {
    my ($t) = @_;
    return scalar grep { /^(\S+) right OK$/ && $1 > $t } split /\n/, Sandbox::slurp($loglines);
}
$end = time + 30;
sleep 0.1 until oks_after($t_promoted) >= 3 || time > $end;
Sandbox::write_file($stopfile, '');
waitpid $kid, 0;

my @l = map { [split] } split /\n/, Sandbox::slurp($loglines);
my @right = grep { $_->[1] eq 'right' } @l;
my @wrong = grep { $_->[1] eq 'wrong' } @l;
my ($first_ok) = map { $_->[0] } grep { $_->[2] eq 'OK' && $_->[0] > $t_promoted } @right;
my %n;
$n{"$_->[1] $_->[2]"}++ for @l;
diag sprintf 'switchover: %s; primary stopped at +0.0 s, standby promoted at +%.1f s, first login after at +%.1f s',
    join(', ', map { "$_: $n{$_}" } sort keys %n), $t_promoted - $t_stop, ($first_ok // 0) - $t_stop;
is(scalar(grep { $_->[2] eq 'OK' } @wrong), 0, 'no wrong password accepted at any time');
is(scalar(grep { $_->[2] eq 'NO' } @right), 0, 'the right password never refused as wrong (temporary failures only)');
ok($on_standby->("SELECT count(*) FROM audit_event WHERE at > to_timestamp($t_promoted) AND result = 'ok'") >= 3,
   'the logins after the switch were served by the promoted server (its audit trail has them)');
ok(defined $first_ok && $first_ok - $t_promoted < 10, 'logins work again within 10 s of the promotion')
    or diag Sandbox::tail($dc->{log});
ok(int(time / 30) - 1 <= $step, 'the code used before the switch is still within its time window');
is(login($jean->{login}, $OtpWorld::PASSWORD . $code), 'NO', 'the code used before the switch is refused after it (replay)');
# A code of a later step than the one used before the switch.
sleep 1 while OtpWorld::code_at($jean->{secret}, time + 30) eq $code;
is(login($jean->{login}, $OtpWorld::PASSWORD . OtpWorld::code_at($jean->{secret}, time + 30)), 'OK',
   'a new code logs in on the promoted server');
done_testing;
