#!/usr/bin/perl
# otp - IMAP LOGIN latency through Dovecot with the mssante_otp passdb
# (device password; password + TOTP code) against Dovecot's own passwd-file
# with the same SHA512-CRYPT hash, measured in the same run, one login at a
# time (connect, LOGIN, LOGOUT). The hash is the floor both pay.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;
use OtpWorld;

my $N = $ENV{BENCH_OTP_LOGINS} || 300;
my $sb = Sandbox->new;
my ($dc, $acct) = OtpWorld::setup($sb, n => $N);
my $base = $sb->dovecot(name => 'dc-passwd-file', users => { 'medecin.0001' => $OtpWorld::PASSWORD });

# login_ms - one login's wall time in ms (dies if refused: a refused login measures nothing)
sub login_ms {
    my ($port, $user, $pass) = @_;
    my $t = time;
    my $imap = $sb->imap($port, $user, $pass);
    die "login refused for $user: " . $imap->login_text unless $imap->login_ok;
    $imap->logout;
    return (time - $t) * 1000;
}
sub pct { my ($p, @v) = @_; my @s = sort { $a <=> $b } @v; return $s[int($p / 100 * $#s)] }

my (@dev, @totp, @file);
for my $a (@$acct) {
    my $code = OtpWorld::code($a->{secret});         # outside the measured time
    push @file, login_ms($base->{imap_port}, 'medecin.0001', $OtpWorld::PASSWORD);
    push @dev, login_ms($dc->{imap_port}, $a->{login}, $a->{device});
    push @totp, login_ms($dc->{imap_port}, $a->{login}, $OtpWorld::PASSWORD . $code);
}
printf "IMAP login p95, device password (p50 %.1f ms) vs passwd-file (p50 %.1f ms)\t%.1f ms\t%.1f ms\t-\t< passwd-file + 2 ms\n",
    pct(50, @dev), pct(50, @file), pct(95, @dev), pct(95, @file);
printf "IMAP login p95, password + TOTP (p50 %.1f ms) vs passwd-file\t%.1f ms\t%.1f ms\t-\t< passwd-file + 2 ms\n",
    pct(50, @totp), pct(95, @totp), pct(95, @file);

# per_second - successful logins per second, 4 clients in parallel for
# BENCH_OTP_SECONDS (5); pick(client, n) gives the login and password
sub per_second {
    my ($port, $pick) = @_;
    my $secs = $ENV{BENCH_OTP_SECONDS} || 5;
    my $dir = $sb->dir;
    my @kids = map {
        my $k = $_;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my ($n, $end) = (0, time + $secs);
            while (time < $end) {
                my $imap = $sb->imap($port, $pick->($k, $n));
                exit 1 unless $imap->login_ok;
                $imap->logout;
                $n++;
            }
            Sandbox::write_file("$dir/rate.$k", $n);
            exit 0;
        }
        $pid;
    } 0 .. 3;
    for (@kids) { waitpid $_, 0; die "a parallel login was refused\n" if $? }
    my $total = 0;
    $total += Sandbox::slurp("$dir/rate.$_") for 0 .. 3;
    return $total / $secs;
}
my $ours = per_second($dc->{imap_port}, sub { my ($k, $n) = @_; my $a = $acct->[($k + 4 * $n) % @$acct]; ($a->{login}, $a->{device}) });
my $theirs = per_second($base->{imap_port}, sub { ('medecin.0001', $OtpWorld::PASSWORD) });
printf "IMAP logins/s, 4 clients in parallel: device password vs passwd-file\t%.0f/s\t%.0f/s\t-\t>= 0.9 x passwd-file\n",
    $ours, $theirs;

# A login whose account owns 5 BALs against one owning 1, interleaved, device passwords.
my ($one, $five) = @$acct[0, 1];
my $pg = $sb->postgres;
$pg->{psql}->(join ";", map {;
    "INSERT INTO bal (address) VALUES ('$five->{login}.$_\@a.mssante.test')",
    "INSERT INTO bal_access SELECT id, '$five->{login}.$_\@a.mssante.test', 'owner' FROM account"
    . " WHERE login = '$five->{login}'" } 1 .. 4);
my (@b1, @b5);
for (1 .. ($ENV{BENCH_OTP_BALS} || 200)) {
    push @b1, login_ms($dc->{imap_port}, $one->{login}, $one->{device});
    push @b5, login_ms($dc->{imap_port}, $five->{login}, $five->{device});
}
printf "IMAP login p50, an account with 5 BALs vs with 1 (device password)\t%.1f ms\t%.1f ms\t-\t<= 1.1 x 1 BAL\n",
    pct(50, @b5), pct(50, @b1);
