#!/usr/bin/perl
# smime - milter-smime's cost. CPU per message of the running milter (read
# from /proc, all of its work: libmilter, the certificate store, canonical
# form, signature, envelope) against the floor, OpenSSL's CMS sign+encrypt
# called in-process on a message of the same size; Postfix throughput for
# 100 KB messages over 10 sessions with the milter and without it (two
# listeners of one Postfix, rounds alternating); peak RSS for 5 MB.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;
use Smime;

my $N = $ENV{BENCH_SMIME_MESSAGES} || 400;
my $N5 = $ENV{BENCH_SMIME_LARGE} || 10;
my $sb = Sandbox->new;
my $dir = $sb->dir;
my $w = Smime::world($sb, conf => ['smime_default_policy = sign+encrypt-when-possible', $ENV{BENCH_SMIME_CONF} || '']);
my %p = %{ $w->{p} };
my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix');
chown $pfuid, $pfgid, $p{alice}{key};
Smime::admin($w, 'import', 'own', 'alice@a.mssante.test', '--cert', $p{alice}{chain}, '--key', $p{alice}{key});
Smime::admin($w, 'import', 'peer', 'bob@b.mssante.test', '--cert', $p{bob}{cert});
my $m = $sb->milter(bin => $sb->bin('milter-smime'), name => 'smime', args => ['-c', $w->{conf}, '-u', 'postfix']);
# The protocol floor: a milter that gives the body back unchanged, on a listener of its own.
my $null = $sb->milter(bin => $sb->build . '/bench/null_milter', name => 'null', args => ['-r']);
chmod 0666, $null->{path};
my $plain = Sandbox::free_port('127.0.0.2');
my $nullport = Sandbox::free_port('127.0.0.2');
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', transport => { 'b.mssante.test' => 'discard:' },
    submission => { args => ['milter_macro_daemon_name=ORIGINATING', "smtpd_milters=$m->{socket}"] },
    master => "127.0.0.2:$plain inet n - n - - smtpd\n  -o milter_macro_daemon_name=ORIGINATING\n"
        . "127.0.0.2:$nullport inet n - n - - smtpd\n  -o milter_macro_daemon_name=ORIGINATING\n"
        . "  -o smtpd_milters=$null->{socket}\n",
    main => { milter_default_action => 'tempfail', message_size_limit => 60_000_000,
              smtpd_relay_restrictions => 'permit_mynetworks, reject', default_process_limit => 200 });

sub cpu {                                       # a milter's CPU seconds so far
    my $pid = shift || $m->{pid};
    my @f = split ' ', (Sandbox::slurp("/proc/$pid/stat") =~ /\)\s+(.*)/)[0];
    return ($f[11] + $f[12]) / 100;             # utime, stime in ticks (fields 14, 15)
}

# source - n messages of len bytes over s sessions; returns seconds
sub source {
    my ($port, $n, $len, $s) = @_;
    my $t = time;
    system('smtp-source', '-s', $s, '-m', $n, '-l', $len, '-f', 'alice@a.mssante.test',
           '-t', 'bob@b.mssante.test', "127.0.0.2:$port") == 0 or die "smtp-source failed\n";
    $sb->postqueue_empty($pf, 300) or die "queue not drained\n";
    return time - $t;
}

# floor - OpenSSL in-process on a message like smtp-source's; (floor ms, ours in-process ms)
sub floor {
    my ($len, $rounds) = @_;
    my $line = "La de da de da 1.\r\n";
    Sandbox::write_file("$dir/floor.eml", "From: <alice\@a.mssante.test>\r\nTo: <bob\@b.mssante.test>\r\n\r\n"
                        . ($line x int($len / length $line)));
    my $out = Sandbox::run($sb->build . '/bench/smime_bench', "$dir/floor.eml", $p{alice}{cert},
                           $p{alice}{key}, $p{bob}{cert}, $rounds);
    return split ' ', $out;
}

source($pf->{submission_port}, 20, 100_000, 2);   # warm up
source($nullport, 20, 100_000, 2);
my ($with, $without, $withnull, $cpu, $cpunull) = (0, 0, 0, 0, 0);
for (1 .. 4) {
    my $c = cpu();
    $with += source($pf->{submission_port}, $N / 4, 100_000, 10);
    $cpu += cpu() - $c;
    $without += source($plain, $N / 4, 100_000, 10);
    $c = cpu($null->{pid});
    $withnull += source($nullport, $N / 4, 100_000, 10);
    $cpunull += cpu($null->{pid}) - $c;
}
my ($floor100, $inproc100) = floor(100_000, 200);
my $c = cpu();
source($pf->{submission_port}, $N5, 5_000_000, 1);
my $cpu5 = (cpu() - $c) / $N5 * 1000;
my ($floor5, $inproc5) = floor(5_000_000, 10);
my ($hwm) = Sandbox::slurp("/proc/$m->{pid}/status") =~ /VmHWM:\s+(\d+)/;

printf "CPU per 100 KB message: milter vs OpenSSL CMS in-process\t%.2f ms\t-\t%.2f ms\t<= 1.25x floor\n",
    $cpu / $N * 1000, $floor100;
printf "CPU per 100 KB message: milter vs a null milter giving the body back (protocol floor)\t%.2f ms\t%.2f ms\t%.2f ms\t-\n",
    $cpu / $N * 1000, $cpunull / $N * 1000, $floor100 + $cpunull / $N * 1000;
printf "CPU per 100 KB message: our code in-process (no milter I/O, no store)\t%.2f ms\t-\t%.2f ms\t-\n",
    $inproc100, $floor100;
printf "CPU per 5 MB message: milter vs OpenSSL CMS in-process\t%.1f ms\t-\t%.1f ms\t<= 1.25x floor\n", $cpu5, $floor5;
printf "CPU per 5 MB message: our code in-process\t%.1f ms\t-\t%.1f ms\t-\n", $inproc5, $floor5;
printf "Postfix, 100 KB, 10 sessions: with milter-smime vs without\t%.0f msg/s\t%.0f msg/s\t-\t>= 0.60 of baseline\n",
    $N / $with, $N / $without;
printf "Postfix, 100 KB, 10 sessions: with the null milter (body given back) vs without\t%.0f msg/s\t%.0f msg/s\t-\t-\n",
    $N / $withnull, $N / $without;
printf "peak RSS of the milter after 5 MB messages (one session)\t%.1f MB\t-\t5.0 MB\t<= 3x message size\n",
    $hwm / 1024;
