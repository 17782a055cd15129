#!/usr/bin/perl
# annuaire_ldap - the LDAP address book on a directory of the national size
# (535,000 rows; BENCH_ANNUAIRE_ROWS to change), in one run against a real
# slapd set up with conf/slapd-annuaire.ldif: the first publication into an
# empty tree (annuaire-sync --ldif, then slapadd) beside slapadd alone (the
# floor); the next two days' publications, as shipped (each request alone)
# then in LDAP transactions (annuaire_publish_transactions = yes), each
# beside the PostgreSQL merge of that day, with the memory slapd grew by
# meanwhile; and the latency of 1,000 searches as mail clients make them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;
use Extraction;

my $ROWS = $ENV{BENCH_ANNUAIRE_ROWS} || 535_000;
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $base = 'ou=annuaire,dc=mssante,dc=test';
my $snippet = Sandbox::slurp($sb->top . '/conf/slapd-annuaire.ldif');
chomp(my $hash = Sandbox::run('slappasswd', '-s', 'Ecriture-Annuaire'));
$snippet =~ s/ou=annuaire,dc=example,dc=fr/$base/g;
$snippet =~ s{^olcDbDirectory: .*$}{olcDbDirectory: \@DIR\@}m;
$snippet =~ s/^olcRootPW: .*$/olcRootPW: $hash/m;
my $ld = $sb->slapd_config(ldif => $snippet, quiet => 1); # as Debian runs it: olcLogLevel none
Sandbox::write_file($conf, Sandbox::slurp($conf) . join '', map { "$_\n" }
    "annuaire_publish_uri = $ld->{ldapi}", "annuaire_publish_base = $base",
    "annuaire_publish_bind_dn = cn=annuaire-sync,$base", 'annuaire_publish_bind_password = Ecriture-Annuaire');

my $day1 = Extraction::generate(seed => 41, rows => $ROWS);
Extraction::write($day1, "$dir/day1.txt");

sub timed {
    my (@cmd) = @_;
    my $t = time;
    my $out = Sandbox::run(@cmd);
    return (time - $t, $out);
}
my @sync = ($sb->bin('annuaire-sync'), '-c', $conf);

timed(@sync, '-o', 'annuaire_publish_uri=', '--extraction', "$dir/day1.txt");
# The first publication into the empty tree: --ldif, then slapadd with slapd stopped.
$ld->{stop}->();
my ($t_ldif, $o1) = timed(@sync, '--ldif', "$dir/tree.ldif");
$o1 =~ /: $ROWS entries under/ or die "bench: --ldif wrote: $o1";
my ($t_slapadd) = timed('slapadd', '-q', '-F', "$ld->{dir}/cfg", '-b', $base, '-l', "$dir/tree.ldif");
$ld->{start}->();
my $check = Sandbox::run(@sync, '--check-ldap');
$check =~ /missing from LDAP: 0; in LDAP but not to publish: 0; different: 0/ or die "bench: --check-ldap: $check";

# rss_anon - slapd's own memory (not the pages of its database), kB
sub rss_anon {
    Sandbox::slurp("/proc/$ld->{pid}/status") =~ /^RssAnon:\s+(\d+) kB$/m or die "bench: no RssAnon for slapd\n";
    return $1;
}
my ($last, @days) = ($day1);
for my $txn ('no', 'yes') {
    my ($day, $diff) = Extraction::next_day($last, seed => 42 + @days);
    Extraction::write($day, "$dir/next.txt");
    my ($t_merge) = timed(@sync, '-o', 'annuaire_publish_uri=', '--extraction', "$dir/next.txt");
    my $m0 = rss_anon();
    my ($t_pub, $o) = timed(@sync, '-o', "annuaire_publish_transactions=$txn", '--publish');
    my ($w, $d) = $o =~ /written (\d+), deleted (\d+)/;
    die "bench: a next day published +~$w -$d, generator says +$diff->{inserted} ~$diff->{updated} -$diff->{deleted}\n"
        if $w != $diff->{inserted} + $diff->{updated} || $d != $diff->{deleted};
    push @days, { txn => $txn, w => $w, d => $d, pub => $t_pub, merge => $t_merge, kept => (rss_anon() - $m0) / 1024 };
    $last = $day;
}

# 1,000 searches: Thunderbird's query on a name prefix, a name with a city,
# a first name with a department, an address prefix.
my $r = Extraction::rng(43);
my @rows = @{ $last->{rows} };
my @f;
for my $k (0 .. 999) {
    my $row = $rows[$r->(scalar @rows)];
    my $name = lc(Extraction::ascii($row->[9] || $row->[18]));
    my $kind = $k % 4;
    my $p = substr($name, 0, 3 + $r->(3));
    push @f, $kind == 0 ? "(|(cn=$p*)(mail=$p*)(sn=$p*)(givenName=$p*))"
           : $kind == 1 ? "(&(sn=$p*)(l=" . lc(Extraction::ascii($row->[27] =~ s/^\S+ //r)) . "))"
           : $kind == 2 ? "(&(givenName=" . lc(substr(Extraction::ascii($row->[10] || 'jean'), 0, 3)) . "*)(st=$row->[29]))"
           :              "(mail=" . substr($row->[1], 0, 8) . "*)";
}
Sandbox::write_file("$dir/filters.txt", join '', map { "$_\n" } @f);
my $s = Sandbox::run($sb->build . '/bench/ldap_search_bench', $ld->{uri}, $base, "$dir/filters.txt");
my ($found, $p50, $p95, $p99) = $s =~ /found (\d+) p50 ([\d.]+) p95 ([\d.]+) p99 ([\d.]+)/;

printf "LDAP first publication, %d entries (annuaire-sync --ldif %.1f s + slapadd -q)\t%.1f s\t-\t%.1f s (slapadd -q alone)\t-\n",
    $ROWS, $t_ldif, $t_ldif + $t_slapadd, $t_slapadd;
printf "LDAP next day (+~%d -%d entries, %s; slapd grew %.1f MB) vs its PostgreSQL merge\t%.2f s\t%.2f s (annuaire-sync, PostgreSQL)\t-\t<= 1x\n",
    $_->{w}, $_->{d}, $_->{txn} eq 'yes' ? 'in LDAP transactions' : 'as shipped, no transaction', $_->{kept},
    $_->{pub}, $_->{merge} for @days;
printf "LDAP search p95 over 1000 client queries (p50 %.2f, p99 %.2f ms; %d found)\t%.2f ms\t-\t-\t< 5 ms\n",
    $p50, $p99, $found, $p95;
