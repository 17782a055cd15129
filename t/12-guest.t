#!/usr/bin/perl
# The tests are guests on the machine. On a host where the add-on is
# installed (here: this test's own mount namespace, in which Dovecot's auth
# module directory holds a file of that name that is not ours), two
# sandboxes started at once each log in through their own copy of the
# passdb; one stopped, the other goes on logging in over IMAP and SMTP
# submission (MSSANTE_GUEST_SECONDS, 120 by default); afterwards the
# installed file is byte-identical and the directory as it was.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sys = '/usr/lib/dovecot/modules/auth';
# Everything below runs in a mount namespace of this test: what it mounts
# over the system directory is seen by this test and its children only.
unless ($ENV{MSSANTE_GUEST_NS}) {
    $ENV{MSSANTE_GUEST_NS} = $$;
    exec 'unshare', '--mount', '--propagation', 'private', '--', $^X, $0, @ARGV;
    die "cannot run unshare: $!\n";
}

my $tmp = tempdir('mssante-guest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;
my $sandbox = "$FindBin::Bin/sandbox";
my $secs = $ENV{MSSANTE_GUEST_SECONDS} || 120;

# The "installed" host: Dovecot's own modules and a production file named
# like ours, which must be neither used nor touched.
my $host = "$tmp/host-auth";
mkdir $host or die "mkdir $host: $!";
system('cp', '-a', glob("$sys/*"), $host) == 0 or die "cp $sys: $?";
my $decoy = join '', map { chr int rand 256 } 1 .. 8192;
Sandbox::write_file("$host/libauthdb_mssante_otp.so", $decoy, 0644);
system('mount', '--bind', $host, $sys) == 0 or BAIL_OUT("cannot bind-mount over $sys (root and mount needed)");
# listing - the directory as the host sees it: names, sizes and digests
sub listing {
    return join '', map { my $f = $_; sprintf "%s %d %s\n", $f =~ s{.*/}{}r, -s $f,
                          -l $f ? 'link:' . readlink($f) : sha256_hex(Sandbox::slurp($f)) } sort glob("$sys/*");
}
my $before = listing();
is(sha256_hex(Sandbox::slurp("$sys/libauthdb_mssante_otp.so")), sha256_hex($decoy),
   'the host has a libauthdb_mssante_otp.so of its own');

# up - start one sandbox world in the background; its pid
sub up {
    my ($name) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $ENV{MSSANTE_SANDBOX_ENV} = "$tmp/$name.env";
        open STDOUT, '>', "$tmp/$name.up"; open STDERR, '>&', \*STDOUT;
        exec $^X, $sandbox, 'up';
        exit 127;
    }
    return $pid;
}
# env - the variables a sandbox wrote
sub env {
    my ($name) = @_;
    return { map { /^(\w+)=(?:'(.*)'|(.*))$/ ? ($1, $2 // $3) : () } split /\n/, Sandbox::slurp("$tmp/$name.env") };
}
# down - stop one sandbox
sub down {
    my ($name) = @_;
    local $ENV{MSSANTE_SANDBOX_ENV} = "$tmp/$name.env";
    my $out = qx{$^X $sandbox down 2>&1};
    return ($? >> 8, $out);
}
# imap_ok - an IMAP login with the doctor's device password succeeds
sub imap_ok {
    my ($e) = @_;
    my $imap = eval { Sandbox::IMAP->new($e->{A_IMAP_HOST}, $e->{A_IMAP_PORT}, $e->{A_LOGIN}, $e->{A_DEVICE_PASSWORD}) }
        or return (0, $@);
    my @r = ($imap->login_ok ? 1 : 0, $imap->login_text);
    $imap->logout;
    return @r;
}
# submit_ok - SMTP submission with the device password is accepted
sub submit_ok {
    my ($e, $subject) = @_;
    my ($rc, $t) = Sandbox::swaks($e->{A_SMTP_HOST}, $e->{A_SUBMISSION_PORT},
        auth => [$e->{A_LOGIN}, $e->{A_DEVICE_PASSWORD}], from => $e->{A_USER}, to => [$e->{A_USER}],
        subject => $subject);
    return ($rc == 0 ? 1 : 0, $t);
}

my %pid = map { $_ => up($_) } qw(one two);
for my $n (qw(one two)) {
    waitpid $pid{$n}, 0;
    is($? >> 8, 0, "sandbox $n started alongside the other") or diag Sandbox::slurp("$tmp/$n.up");
}
my %e = map { $_ => env($_) } qw(one two);
isnt($e{one}{MSSANTE_SANDBOX_DIR}, $e{two}{MSSANTE_SANDBOX_DIR}, 'each in a directory of its own');
for my $n (qw(one two)) {
    my ($ok, $t) = imap_ok($e{$n});
    ok($ok, "sandbox $n: IMAP login through its passdb") or diag $t;
    ($ok, $t) = submit_ok($e{$n}, "guest-$n");
    ok($ok, "sandbox $n: SMTP submission with AUTH") or diag $t;
}
is(listing(), $before, 'the host\'s auth module directory is untouched while both run');

my ($rc, $out) = down('one');
is($rc, 0, 'sandbox one stopped') or diag $out;
ok(!-d $e{one}{MSSANTE_SANDBOX_DIR}, 'its directory is gone');

# The other one for $secs seconds: every login and every submission succeeds.
my ($n, $fail, $first) = (0, 0, '');
my $end = time + $secs;
while (time < $end) {
    $n++;
    for my $try ([imap => \&imap_ok], [submission => \&submit_ok]) {
        my ($ok, $t) = $try->[1]->($e{two}, "guest-loop-$n");
        next if $ok;
        $fail++;
        $first ||= "round $n, $try->[0]: $t";
    }
}
diag "sandbox two after one stopped: $n rounds of IMAP login + submission in $secs s, $fail failures";
ok($n > 0, 'the loop ran');
is($fail, 0, "sandbox two: every IMAP login and submission succeeded for $secs s") or diag $first;
($rc, $out) = down('two');
is($rc, 0, 'sandbox two stopped') or diag $out;

is(sha256_hex(Sandbox::slurp("$sys/libauthdb_mssante_otp.so")), sha256_hex($decoy),
   'the host\'s libauthdb_mssante_otp.so is byte-identical afterwards');
is(listing(), $before, 'and its auth module directory holds what it held');
system('umount', $sys);
done_testing;
