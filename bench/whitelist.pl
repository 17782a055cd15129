#!/usr/bin/perl
# whitelist - the liste blanche and milter-whitelist, measured in one run.
#  1. load + verify a list of the real size (the 2025-02-28 entries, re-signed
#     by the test PKI), in process, vs the xmlsec1 command verifying it;
#  2. one domain lookup;
#  3. Postfix accepting 2,000 messages over 10 sessions (smtp-source) with no
#     milter, with milter-whitelist, and with check_recipient_access on a hash
#     map of the same domains (what a sysadmin would otherwise use).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time sleep);
use Sandbox;
use ListeBlanche;

my $MESSAGES = $ENV{BENCH_MESSAGES} || 2000;
my $sb = Sandbox->new(keep => $ENV{MSSANTE_KEEP});
my $dir = $sb->dir;
my $real = ListeBlanche::real($sb);

sub unxml { my ($s) = @_; $s =~ s/&lt;/</g; $s =~ s/&gt;/>/g; $s =~ s/&quot;/"/g; $s =~ s/&apos;/'/g; $s =~ s/&amp;/&/g; $s }
my @entries;
for my $d (Sandbox::slurp($real) =~ m{<Domaine>(.*?)</Domaine>}sg) {
    my ($nom) = $d =~ m{<Nom>(.*?)</Nom>}s;
    my ($dn) = $d =~ m{<DNCertificatOperateur>(.*?)</DNCertificatOperateur>}s;
    push @entries, [unxml($nom), unxml($dn)] if $nom && $dn;
}
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
my $list = ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $signer, "$dir/lb.xml");
my $anchors = $sb->pki->{bundle};

# 1 and 2: in process
my $out = Sandbox::run($sb->build . '/bench/lb_bench', $list, $anchors, 5);
my ($load) = $out =~ /load_ms ([\d.]+)/;
my ($lookup) = $out =~ /lookup_ns ([\d.]+)/;
my @x;
for (1 .. 3) {
    my $t = time;
    # xmlsec1 reads one certificate per --trusted-pem.
    Sandbox::run('xmlsec1', '--verify', '--trusted-pem', $sb->pki->{root}{cert}, '--trusted-pem',
                 $sb->pki->{organisations}{cert}, '--enabled-reference-uris', 'empty', $list);
    push @x, time - $t;
}
@x = sort { $a <=> $b } @x;
printf "load+verify %d-entry list, in process (median of 5)\t%.0f ms\t%.0f ms (xmlsec1 --verify)\t-\t< 500 ms\n",
    scalar @entries, $load, $x[1] * 1000;
printf "domain lookup (hits and misses)\t%.0f ns\t-\t-\t< 1000 ns\n", $lookup;

# 3: Postfix throughput
my %dom = map { lc($_->[0]) => 1 } @entries;
Sandbox::write_file("$dir/domains", join '', map { "$_ OK\n" } sort keys %dom);
# postmap reads a main.cf: its own, as Postfix's package installs none.
Sandbox::write_file("$dir/postmap/main.cf", "compatibility_level = 3.6\n");
Sandbox::run('postmap', '-c', "$dir/postmap", "hash:$dir/domains");
Sandbox::write_file("$dir/m.conf", "whitelist_file = $list\nwhitelist_trust_anchors = $anchors\n"
    . "our_domains = a.mssante.test\noutbound_daemons = ORIGINATING\n");
my $m = $sb->milter(bin => $sb->bin('milter-whitelist'), name => 'wl', args => ['-c', "$dir/m.conf", '-u', 'postfix']);
# The protocol floor: a milter negotiating the same steps that answers "continue" at once.
my $null = $sb->milter(bin => $sb->build . '/bench/null_milter', name => 'null', args => ['-e']);
chmod 0666, $null->{path};
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', domains => ['a.mssante.test'],
    submission => { args => ['milter_macro_daemon_name=ORIGINATING'] },
    main => { default_transport => 'discard:', relay_transport => 'discard:', milter_protocol => 6,
              milter_default_action => 'tempfail', smtpd_relay_restrictions => 'permit_mynetworks, reject',
              in_flow_delay => '0', smtpd_client_connection_count_limit => '0' });

my %setting = (
    none   => { smtpd_milters => '', smtpd_relay_restrictions => 'permit_mynetworks, reject' },
    milter => { smtpd_milters => $m->{socket}, smtpd_relay_restrictions => 'permit_mynetworks, reject' },
    map    => { smtpd_milters => '', smtpd_relay_restrictions => "check_recipient_access hash:$dir/domains, reject" },
    null   => { smtpd_milters => $null->{socket}, smtpd_relay_restrictions => 'permit_mynetworks, reject' },
);
# cpu - user+system seconds of a process so far
sub cpu {
    my ($pid) = @_;
    my @f = split ' ', (Sandbox::slurp("/proc/$pid/stat") =~ /\)\s+(.*)/s)[0];
    return ($f[11] + $f[12]) / 100;             # utime, stime in clock ticks (USER_HZ 100)
}

# run - best msg/s of two rounds for each setting; -d reuses connections
my %rate;
my $sent = 0;
my ($milter_cpu, $null_cpu) = (0, 0);
for my $reuse ('', '-d') {
    for my $round (1 .. 2) {
        for my $k (qw(none milter map null)) {
            my $s = $setting{$k};
            Sandbox::run('postconf', '-c', $pf->{config_dir}, '-e', map { "$_=$s->{$_}" } sort keys %$s);
            Sandbox::run('postfix', '-c', $pf->{config_dir}, 'reload');
            sleep 1;
            $sb->postqueue_empty($pf, 60);
            my ($c0, $n0) = (cpu($m->{pid}), cpu($null->{pid}));
            my $t = time;
            my $r = qx{smtp-source $reuse -s 10 -m $MESSAGES -l 2048 -f jean.dupont\@a.mssante.test -t dr.x\@medecin.mssante.fr 127.0.0.2:$pf->{submission_port} 2>&1};
            my $dt = time - $t;
            die "bench: smtp-source failed ($k): $r\n" if $?;
            $sent += $MESSAGES;
            $milter_cpu = (cpu($m->{pid}) - $c0) / $MESSAGES if $k eq 'milter' && !$reuse;
            $null_cpu = (cpu($null->{pid}) - $n0) / $MESSAGES if $k eq 'null' && !$reuse;
            my $rate = $MESSAGES / $dt;
            $rate{"$k$reuse"} = $rate if !$rate{"$k$reuse"} || $rate > $rate{"$k$reuse"};
        }
    }
}
# The messages must really have been accepted: count them in the log.
$sb->postqueue_empty($pf, 120);
my $accepted = () = Sandbox::slurp($pf->{maillog}) =~ /to=<dr\.x\@medecin\.mssante\.fr>, relay=none, .*status=sent/g;
die "bench: only $accepted of $sent messages were accepted\n" if $accepted < $sent;
printf "Postfix, %d msgs, 10 sessions, a connection per message (best of 2)\t%.0f msg/s\t%.0f msg/s (hash map)\t%.0f msg/s (no check)\t>= 0.90 x map\n",
    $MESSAGES, $rate{milter}, $rate{map}, $rate{none};
printf "Postfix, %d msgs, 10 sessions, connections reused (best of 2)\t%.0f msg/s\t%.0f msg/s (hash map)\t%.0f msg/s (no check)\t>= 0.90 x map\n",
    $MESSAGES, $rate{'milter-d'}, $rate{'map-d'}, $rate{'none-d'};
printf "Postfix, %d msgs, 10 sessions, a connection per message: null milter (protocol floor)\t%.0f msg/s\t%.0f msg/s (hash map)\t%.0f msg/s (no check)\t-\n",
    $MESSAGES, $rate{null}, $rate{map}, $rate{none};
printf "Postfix, %d msgs, 10 sessions, connections reused: null milter (protocol floor)\t%.0f msg/s\t%.0f msg/s (hash map)\t%.0f msg/s (no check)\t-\n",
    $MESSAGES, $rate{'null-d'}, $rate{'map-d'}, $rate{'none-d'};
printf "milter-whitelist CPU per message vs the null milter\t%.0f us\t%.0f us\t-\t-\n", $milter_cpu * 1e6, $null_cpu * 1e6;
