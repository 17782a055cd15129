#!/usr/bin/perl
# mailmaps - Postfix accepting mail for our BALs, measured in one run:
# domains, mailboxes and aliases from PostgreSQL (the shipped pgsql maps,
# through proxymap) with Dovecot's quota-status at RCPT (the shipped quota
# snippet, SQL userdb), against the same BALs in hash maps with no policy
# check (what a sysadmin would otherwise run), and against no recipient
# check at all. 2,000 messages over 10 sessions; accepted mail is discarded
# so that only the acceptance is measured. Two more rows split the cost:
# the pgsql maps alone, quota-status alone. BENCH_LOG_SQL=1 logs every
# statement PostgreSQL receives (the sandbox's pg/postgres.log).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time sleep);
use Sandbox;

my $MESSAGES = $ENV{BENCH_MESSAGES} || 2000;
my $BALS = 1000;
my $sb = Sandbox->new(keep => $ENV{MSSANTE_KEEP});
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n");
my $admin = $sb->bin('mssante-admin');
Sandbox::write_file("$dir/form.csv", "login;nom;prenom;email_contact;bal;rpps_adeli\n" . join '', map {
    "medecin.$_;NOM$_;Prenom$_;m$_\@perso.test;medecin.$_\@a.mssante.test;" . sprintf("1%010d\n", $_) } 1 .. $BALS);
Sandbox::run($admin, '-c', $conf, 'import', "$dir/form.csv", '--apply');
Sandbox::run($admin, '-c', $conf, qw(bal add pgonly@a.mssante.test --owner medecin.1 --rpps-adeli 10000000001));
my $rcpt = 'medecin.500@a.mssante.test';

my $dc = $sb->dovecot(userdb_sql => 1, quota => { admin => $admin, conf => $conf });
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', pgsql => 1,
    main => { virtual_transport => 'discard:', in_flow_delay => '0', smtpd_client_connection_count_limit => '0' });
my %pgsql = map { $_ => Sandbox::run('postconf', '-c', $pf->{config_dir}, '-h', $_) =~ s/\s+$//r }
    qw(virtual_mailbox_domains virtual_mailbox_maps virtual_alias_maps);
# The same BALs in hash maps, as postmap builds them.
Sandbox::write_file("$dir/maps/main.cf", "compatibility_level = 3.6\n");
Sandbox::write_file("$dir/maps/domains", "a.mssante.test OK\n");
Sandbox::write_file("$dir/maps/mailboxes", join '', map { "medecin.$_\@a.mssante.test OK\n" } 1 .. $BALS);
Sandbox::write_file("$dir/maps/aliases", "secretariat\@a.mssante.test medecin.1\@a.mssante.test\n");
Sandbox::run('postmap', '-c', "$dir/maps", "hash:$dir/maps/$_") for qw(domains mailboxes aliases);

my %setting = (
    pgsql => { %pgsql, smtpd_recipient_restrictions =>
                   "reject_unauth_destination, check_policy_service unix:$dc->{dir}/run/quota-status" },
    hash  => { virtual_mailbox_domains => "hash:$dir/maps/domains", virtual_mailbox_maps => "hash:$dir/maps/mailboxes",
               virtual_alias_maps => "hash:$dir/maps/aliases", smtpd_recipient_restrictions => 'reject_unauth_destination' },
    pgmaps => { %pgsql, smtpd_recipient_restrictions => 'reject_unauth_destination' },
    quota => { virtual_mailbox_domains => "hash:$dir/maps/domains", virtual_mailbox_maps => "hash:$dir/maps/mailboxes",
               virtual_alias_maps => "hash:$dir/maps/aliases", smtpd_recipient_restrictions =>
                   "reject_unauth_destination, check_policy_service unix:$dc->{dir}/run/quota-status" },
    none  => { virtual_mailbox_domains => 'a.mssante.test', virtual_mailbox_maps => 'static:OK',
               virtual_alias_maps => '', smtpd_recipient_restrictions => 'reject_unauth_destination' },
);

# The best msg/s of two rounds of each setting, side by side.
my %rate;
my $sent = 0;
Sandbox::run('psql', '-X', '-q', '-d', $pg->{superuser}, '-c', $_) for $ENV{BENCH_LOG_SQL} ? ("ALTER SYSTEM SET log_statement = 'all'", 'SELECT pg_reload_conf()') : ();
for my $round (1 .. 2) {
    for my $k (qw(none hash pgmaps quota pgsql)) {
        my $s = $setting{$k};
        Sandbox::run('postconf', '-c', $pf->{config_dir}, '-e', map { "$_=$s->{$_}" } sort keys %$s);
        Sandbox::run('postfix', '-c', $pf->{config_dir}, 'reload');
        $sb->postqueue_empty($pf, 60);
        # The reload is done when a new smtpd answers with the new maps:
        # pgonly@ is a BAL of PostgreSQL only, nobody@ is in no map.
        my ($probe, $want) = $k =~ /^pg/ ? ('pgonly', 250) : $k =~ /^(hash|quota)$/ ? ('pgonly', 550) : ('nobody', 250);
        my $end = time + 20;
        sleep 0.2 until time > $end
            || qx{swaks -q RCPT -s 127.0.0.2:$pf->{smtp_port} -f x\@b.mssante.test -t $probe\@a.mssante.test 2>&1} =~ /^<.. $want /m;
        die "bench: Postfix did not take the $k setting\n" if time > $end;
        my $t = time;
        my $r = qx{smtp-source -s 10 -m $MESSAGES -l 2048 -f x\@b.mssante.test -t $rcpt 127.0.0.2:$pf->{smtp_port} 2>&1};
        my $dt = time - $t;
        die "bench: smtp-source failed ($k): $r\n" if $?;
        $sent += $MESSAGES;
        my $rate = $MESSAGES / $dt;
        $rate{$k} = $rate if !$rate{$k} || $rate > $rate{$k};
    }
}
$sb->postqueue_empty($pf, 120);
my $accepted = () = Sandbox::slurp($pf->{maillog}) =~ /to=<\Q$rcpt\E>, relay=none, .*status=sent/g;
die "bench: only $accepted of $sent messages were accepted\n" if $accepted < $sent;
printf "Postfix, %d msgs, 10 sessions: pgsql maps + quota-status vs hash maps (best of 2)\t%.0f msg/s\t%.0f msg/s (hash maps)\t%.0f msg/s (no check)\t>= 0.85 x hash\n",
    $MESSAGES, $rate{pgsql}, $rate{hash}, $rate{none};
printf "  of which: pgsql maps alone (3 lookups a message)\t%.0f msg/s\t%.0f msg/s (hash maps)\t%.0f msg/s (no check)\t-\n",
    $rate{pgmaps}, $rate{hash}, $rate{none};
printf "  of which: quota-status alone (hash maps)\t%.0f msg/s\t%.0f msg/s (hash maps)\t%.0f msg/s (no check)\t-\n",
    $rate{quota}, $rate{hash}, $rate{none};
