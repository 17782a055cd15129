#!/usr/bin/perl
# The milter skeleton of lib/, through a minimal milter, against the real
# Postfix: configuration check, socket and privilege drop, a header added
# (and a forged copy removed), reload on SIGUSR1, and Postfix answering a
# temporary failure when the milter is gone.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::UNIX;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $bin = $sb->build . '/t/skel-milter';
ok(-x $bin, 'skel-milter is built') or BAIL_OUT("build first: $bin");

# --- configuration check mode
my $out = qx{$bin -n -o debug_level=2 2>&1};
ok($? == 0 && $out =~ /^debug_level = 2$/m, '-n prints the effective settings, -o applies');
my $bad = Sandbox::write_file($sb->dir . '/bad.conf', "debug_level = 9\n");
$out = qx{$bin -n -c $bad 2>&1};
ok($? >> 8 == 1, 'out-of-range setting: refuses to start (exit 1)');
like($out, qr{bad\.conf:1: key "debug_level": value "9" is out of range 0\.\.3}, 'and names file, line and key');

# --- started for real, dropping to the postfix user
my $m = $sb->milter(bin => $bin, name => 'skel', args => ['-u', 'postfix']);
my (undef, undef, $pfuid) = getpwnam('postfix');
# The socket exists before the privilege drop: wait for the drop (10 s at most).
my $uid;
my $end = time + 10;
while (1) {
    ($uid) = Sandbox::slurp("/proc/$m->{pid}/status") =~ /^Uid:\s+(\d+)/m;
    last if !defined $uid || $uid != 0 || time > $end;
    sleep 0.02;
}
is($uid, $pfuid, 'milter runs as the configured user after opening its socket');
my @st = stat $m->{path};
is($st[4], $pfuid, 'socket is owned by that user');
is($st[2] & 07777, 0660, 'socket is not open to everyone (mode 0660)');

my $dc = $sb->dovecot(users => { 'jean.dupont@a.mssante.test' => 'Secret-1' });
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
    recipients => ['jean.dupont@a.mssante.test'], lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    main => { smtpd_milters => $m->{socket}, milter_default_action => 'tempfail',
              milter_protocol => 6 });

# send - one message through Postfix; returns (exit status, transcript)
sub send_mail {
    my ($subject, @hdr) = @_;
    my $cmd = "swaks --server 127.0.0.2 --port $pf->{smtp_port} --helo client.test "
            . "--from sender\@b.mssante.test --to jean.dupont\@a.mssante.test "
            . "--header 'Subject: $subject' " . join(' ', map { "--header '$_'" } @hdr)
            . " --body hello";
    my $t = qx{$cmd 2>&1};
    return ($? >> 8, $t);
}

# fetch_headers - the X-MSSante-Skeleton lines of the message with a subject
sub fetch_headers {
    my ($subject) = @_;
    my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont@a.mssante.test', 'Secret-1');
    $imap->cmd('SELECT INBOX');
    my (undef, $txt) = $imap->cmd("SEARCH SUBJECT \"$subject\"");
    my ($n) = $txt =~ /^\* SEARCH (\d+)/m;
    return () unless $n;
    (undef, $txt) = $imap->cmd("FETCH $n (BODY.PEEK[HEADER])");
    $imap->logout;
    return $txt =~ /^X-MSSante-Skeleton: (.*?)\r?$/mg;
}

my ($rc, $t) = send_mail('first', 'X-MSSante-Skeleton: forged');
is($rc, 0, 'message through the milter accepted') or diag $t;
ok($sb->postqueue_empty($pf), 'delivered') or diag Sandbox::tail($pf->{maillog});
my @h = fetch_headers('first');
is(scalar @h, 1, 'exactly one X-MSSante-Skeleton header: the forged copy is gone');
my ($qid) = Sandbox::slurp($pf->{maillog}) =~ /postfix\/cleanup\[\d+\]: ([0-9A-F]+): message-id/;
is($h[0], "$qid reloads=0", 'the header names the Postfix queue id');

kill 'USR1', $m->{pid};
$end = time + 5;
sleep 0.1 until Sandbox::slurp($m->{log}) =~ /reloaded, count 1/ || time > $end;
like(Sandbox::slurp($m->{log}), qr/reload requested.*reloaded, count 1/s, 'SIGUSR1 runs the reload hook');
($rc, $t) = send_mail('second');
ok($rc == 0 && $sb->postqueue_empty($pf), 'second message delivered');
like((fetch_headers('second'))[0], qr/ reloads=1$/, 'the milter keeps serving after a reload');

$m->{stop}->();
($rc, $t) = send_mail('third');
isnt($rc, 0, 'with the milter stopped, the message is not accepted');
like($t, qr/^<\*\* 451 4\.7\.1 /m, 'Postfix answers 451 4.7.1 (milter_default_action = tempfail)');

# --- silent connections: closed after milter_idle_timeout (libmilter looks every
# 10 minutes: the milter runs on a clock 60 times faster, libfaketime, read-only use)
my ($libfaketime) = glob '/usr/lib/*/faketime/libfaketimeMT.so.1';
ok($libfaketime, 'libfaketime (package faketime)') or BAIL_OUT('no libfaketime');
# A sanitized build: its runtime must come first among the preloaded libraries.
my ($asan) = qx{ldd $bin 2>/dev/null} =~ m{=> (\S+/libasan\.so\S*)};
my $idle = do {
    local $ENV{LD_PRELOAD} = join ' ', grep { defined } $asan, $libfaketime;
    local $ENV{FAKETIME} = '+0 x60';
    $sb->milter(bin => $bin, name => 'skel-idle', args => ['-u', 'postfix', '-o', 'milter_idle_timeout=2m']);
};
# negotiate - a connection that says hello as Postfix does, then nothing
sub negotiate {
    my $s = IO::Socket::UNIX->new(Peer => $idle->{path}) or return undef;
    my $got = Sandbox::milter_say($s, 'O', pack('NNN', 6, 0x1ff, 0x1fffff), 5);
    return substr($got, 4, 1) eq 'O' ? $s : undef;
}
my @silent = grep { defined } map { negotiate() } 1 .. 20;
is(scalar @silent, 20, '20 connections negotiated, then silent');
my $sel = IO::Select->new(@silent);
my $closed = 0;
$end = time + 40;                               # 40 min of the milter's clock
while ($closed < @silent && time < $end) {
    for my $h ($sel->can_read(0.5)) {
        next if sysread($h, my $b, 4096);
        $closed++;
        $sel->remove($h);
    }
}
is($closed, 20, 'the milter closed all of them (2 min idle, checked every 10 min)');
ok(negotiate(), 'and still answers a new connection');
$idle->{stop}->();

done_testing;
