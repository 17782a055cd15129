#!/usr/bin/perl
# Faults below the programs: PostgreSQL stopped in the middle of an
# annuaire-sync, and a full disk under the liste blanche being installed
# and under Dovecot's mailboxes (a real full file system: a small tmpfs).
# Nothing may be half-written, nothing lost: the old data stays, mail waits
# in Postfix's queue and is delivered once there is room again.
# (PostgreSQL stopped during OTP logins: t/80; during S/MIME lookups: t/91.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Compare qw(compare);
use POSIX qw(mkfifo);
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use Extraction;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my @mounts;
END { system('umount', '-l', $_) for reverse @mounts }

# tmpfs - a file system of size bytes at path (mounted for the life of the test)
sub tmpfs {
    my ($path, $size, $owner) = @_;
    mkdir $path;
    my $out = qx{mount -t tmpfs -o size=$size,mode=0755 tmpfs $path 2>&1};
    BAIL_OUT("cannot mount a tmpfs on $path (this test needs root and mount): $out") if $?;
    push @mounts, $path;
    chown @$owner, $path if $owner;
}
# fill - take every free byte of the file system under path
sub fill {
    my ($path) = @_;
    open my $fh, '>', "$path/filler" or die "$path/filler: $!";
    my $block = "\0" x 4096;
    1 while syswrite $fh, $block;
    close $fh;
    return -s "$path/filler";
}

# --- 1. PostgreSQL stopped during annuaire-sync
{
    my ($pg, $conf) = $sb->migrated;
    my $count = sub { my $r = $pg->{psql}->($_[0]); chomp $r; $r };
    my $digest = sub { $count->("SELECT md5(string_agg(address || '|' || coalesce(last_changed::text, ''), ',' ORDER BY address)) FROM annuaire_bal") };
    my $day1 = Extraction::generate(rows => 20_000, seed => 11);
    Extraction::write($day1, "$dir/day1.txt");
    my $sync = sub {
        my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-sync'), '-c', $conf, @_;
        my $o = qx{$cmd 2>&1};
        return ($? >> 8, $o);
    };
    my ($rc, $out) = $sync->('--extraction', "$dir/day1.txt");
    is($rc, 0, 'annuaire-sync loads day 1') or diag $out;
    my ($rows, $before) = ($count->('SELECT count(*) FROM annuaire_bal'), $digest->());

    my ($day2) = Extraction::next_day($day1, seed => 12);
    Extraction::write($day2, "$dir/day2.txt");
    mkfifo("$dir/fifo", 0600) or die "mkfifo: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/stopped.out";
        open STDERR, '>&', \*STDOUT;
        exec $sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/fifo";
        exit 127;
    }
    open my $fifo, '>', "$dir/fifo" or die;
    my @l = split /(?<=\n)/, Sandbox::slurp("$dir/day2.txt");
    print $fifo @l[0 .. 5000];
    $fifo->flush;
    my $end = time + 10;
    sleep 0.1 until $count->("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY sync_stage%'") > 0 || time > $end;
    $pg->{stop}->() or die 'pg stop';
    local $SIG{PIPE} = 'IGNORE';
    print $fifo @l[5001 .. $#l];
    close $fifo;
    waitpid $pid, 0;
    my $st = $? >> 8;
    my $said = Sandbox::slurp("$dir/stopped.out");
    isnt($st, 0, "PostgreSQL stopped during the COPY: annuaire-sync fails (exit $st)");
    like($said, qr/database|PostgreSQL|server closed|connection/i, 'and says the database went away') or diag $said;
    unlike($said, qr/AddressSanitizer|runtime error|Segmentation/, 'no crash') or diag $said;
    $pg->{start}->();
    is($count->('SELECT count(*) FROM annuaire_bal'), $rows, 'PostgreSQL back: row count unchanged');
    is($digest->(), $before, 'every row as before');
    ($rc, $out) = $sync->('--extraction', "$dir/day2.txt");
    is($rc, 0, 'the next run succeeds') or diag $out;
    isnt($digest->(), $before, 'and applies day 2');
}

# --- 2. disk full while installing the liste blanche
{
    my $pki = $sb->pki;
    my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
    my $web = "$dir/www";
    mkdir $web;
    my @small = (['a.mssante.test', 'CN=mx.a.mssante.test,OU=1,O=A,C=FR']);
    my @big = map { ["d$_.mssante.test", "CN=mx.d$_.mssante.test,OU=$_,O=OPERATEUR $_,C=FR"] } 1 .. 2000;
    my $old = ListeBlanche::sign(ListeBlanche::document(entries => \@small), $signer, "$dir/old.xml");
    my $new = ListeBlanche::sign(ListeBlanche::document(entries => \@big, date => '2026-11-23T10:00:00Z'),
                                 $signer, "$dir/new.xml");
    Sandbox::write_file("$web/listeblanchemssante.xml", Sandbox::slurp($new));
    my $https = $sb->https_server($web);
    my $state = "$dir/lbstate";
    tmpfs($state, '1m');
    my $installed = "$state/listeblanche.xml";
    Sandbox::write_file($installed, Sandbox::slurp($old));
    utime time - 86400, time - 86400, $installed;         # older than the published one
    my $conf = Sandbox::write_file("$dir/lb.conf", "whitelist_file = $installed\n"
        . "whitelist_trust_anchors = $pki->{bundle}\n"
        . "whitelist_url = https://localhost:$https->{port}/listeblanchemssante.xml\n"
        . "whitelist_https_ca = $pki->{bundle}\n");
    my $filled = fill($state);
    ok($filled > 0, "the list's file system is full ($filled bytes of filler)");
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('liste-blanche'), '-c', $conf, 'fetch';
    my $out = qx{$cmd 2>&1};
    my $rc = $? >> 8;
    isnt($rc, 0, "disk full: the fetch fails (exit $rc)");
    like($out, qr/No space left on device/, 'and says the disk is full') or diag $out;
    is(compare($installed, $old), 0, 'the installed list is the old one, byte for byte');
    is(join(',', grep { !m{/(?:listeblanche\.xml|filler)$} } glob("$state/* $state/.*[!.]*")), '', 'no partial file left');
    unlink "$state/filler";
    $out = qx{$cmd 2>&1};
    is($? >> 8, 0, 'room again: the fetch installs the new list') or diag $out;
    is(compare($installed, $new), 0, 'the installed list is the new one');
}

# --- 3. disk full under Dovecot's mailboxes during LMTP delivery
{
    my $dc = $sb->dovecot(name => 'dc-full', users => { 'bob@a.mssante.test' => 'pw' });
    my (undef, undef, $vuid, $vgid) = getpwnam('nobody');
    tmpfs($dc->{maildir}, '2m', [$vuid, $vgid]);
    my $pf = $sb->postfix(name => 'full', addr => '127.0.0.2', domains => ['a.mssante.test'],
                          recipients => ['bob@a.mssante.test'], lmtp => "inet:127.0.0.1:$dc->{lmtp_port}");
    my $filled = fill($dc->{maildir});
    ok($filled > 0, "the mailboxes' file system is full ($filled bytes)");
    my @ids = map { "full-$_" } 1 .. 5;
    for my $id (@ids) {
        my $out = qx{swaks --server 127.0.0.2 --port $pf->{smtp_port} --from alice\@a.mssante.test --to bob\@a.mssante.test --header 'Message-Id: <$id\@a.mssante.test>' --body 'x' 2>&1};
        like($out, qr/^<-\s+250 .*queued as/m, "$id: accepted by Postfix") or diag $out;
    }
    my $log = '';
    for (1 .. 100) {
        $log = Sandbox::slurp($pf->{maillog});
        last if (() = $log =~ /status=deferred/g) >= 5;
        sleep 0.2;
    }
    is(scalar(() = $log =~ /status=deferred/g) >= 5 ? 1 : 0, 1, 'LMTP answered a temporary failure: each message deferred')
        or diag Sandbox::tail($pf->{maillog});
    unlike($log, qr/status=bounced/, 'nothing bounced');
    my $q = qx{postqueue -c $pf->{config_dir} -j};
    is(scalar(() = $q =~ /"queue_name"/g), 5, 'the 5 messages wait in the queue');
    unlink "$dc->{maildir}/filler";
    ok($sb->postqueue_empty($pf, 60), 'room again: the queue empties');
    my %seen;
    for my $f (glob "$dc->{maildir}/a.mssante.test/bob/new/* $dc->{maildir}/a.mssante.test/bob/cur/*") {
        $seen{$1}++ if Sandbox::slurp($f) =~ /^Message-ID: <([^@>]+)\@/mi;
    }
    my $lost = grep { !$seen{$_} } @ids;
    my $dup = grep { $_ > 1 } values %seen;
    diag sprintf 'disk full: sent %d, delivered %d, lost %d, duplicates %d', scalar @ids, scalar keys %seen, $lost, $dup;
    is($lost, 0, 'disk full: lost = 0');
    is($dup, 0, 'disk full: duplicates = 0');
}

done_testing;
