#!/usr/bin/perl
# annuaire - annuaire-sync and annuaire-search on a generated extraction of
# the national size (535,000 rows; BENCH_ANNUAIRE_ROWS to change), in one run:
# full load into an empty database, next day, unchanged re-sync, a naive
# baseline (row-by-row INSERT ... ON CONFLICT in one transaction), bare COPY
# into an unindexed table (the floor), peak RSS, and search latency.
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
my $schema = $sb->top . '/schema';
$pg->{psql}->("CREATE DATABASE naive OWNER mssante", $pg->{superuser});
(my $naive = $pg->{conninfo}) =~ s/dbname=mssante/dbname=naive/;
Sandbox::run($sb->bin('mssante-db'), '--db', $naive, '--schema-dir', $schema, 'migrate');

my $day1 = Extraction::generate(seed => 31, rows => $ROWS);
Extraction::write($day1, "$dir/day1.txt", duplicates => 169);
my ($day2, $diff) = Extraction::next_day($day1, seed => 32);
Extraction::write($day2, "$dir/day2.txt");

# timed - wall time and peak RSS (kB) of a command
sub timed {
    my (@cmd) = @_;
    my $t = time;
    my $out = Sandbox::run('/usr/bin/time', '-f', 'maxrss=%M', @cmd);
    my ($rss) = $out =~ /maxrss=(\d+)/;
    return (time - $t, $rss, $out);
}

# floor: bare COPY into an unindexed table of 31 text columns
$pg->{psql}->("CREATE TABLE floor (" . join(', ', map { "c$_ text" } 1 .. 31) . ")");
my ($t_floor) = timed('psql', '-X', '-q', '-d', $pg->{conninfo}, '-c',
    "\\copy floor FROM '$dir/day1.txt' WITH (FORMAT csv, DELIMITER '|', HEADER true, QUOTE E'\\x01')");

my ($t_full, $rss_full, $o1) = timed($sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/day1.txt");
my ($t_next, $rss_next, $o2) = timed($sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/day2.txt");
my ($t_same, $rss_same, $o3) = timed($sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/day2.txt");
my ($i, $u, $d) = $o2 =~ /inserted (\d+), updated (\d+), deleted (\d+)/;
die "bench: next day wrote +$i ~$u -$d, generator says +$diff->{inserted} ~$diff->{updated} -$diff->{deleted}\n"
    if $i != $diff->{inserted} || $u != $diff->{updated} || $d != $diff->{deleted};
die "bench: the unchanged re-sync wrote rows: $o3\n" unless $o3 =~ /inserted 0, updated 0, deleted 0/;

# naive baseline: one INSERT ... ON CONFLICT per row, one transaction
my @cols = qw(address bal_type id_type id_pp national_id structure_id_type structure_id service civility
              last_name first_name profession_category profession_category_label profession_code
              profession_label specialty_code specialty_label digitization org_name org_trade_name
              addr_complement addr_distribution addr_number addr_number_compl addr_street_type addr_street
              addr_locality addr_line6 postcode department country);
open my $sql, '>:raw', "$dir/naive.sql" or die;
for my $r (@{ $day1->{rows} }) {
    my @v = map { my $x = $_ // ''; utf8::encode($x) if utf8::is_utf8($x); $x =~ s/'/''/g; $x eq '' ? 'NULL' : "'$x'" } @$r;
    print $sql "INSERT INTO annuaire_bal (" . join(',', @cols) . ",source,row_hash) VALUES ("
        . join(',', @v) . ",'extraction',md5('x')) ON CONFLICT (address) DO UPDATE SET "
        . join(',', map { "$_=EXCLUDED.$_" } @cols[1 .. $#cols]) . ";\n";
}
close $sql;
my ($t_naive) = timed('psql', '-X', '-q', '-1', '-d', $naive, '-f', "$dir/naive.sql");

# search: 1,000 varied queries built from the data
my @q;
my $n = @{ $day1->{rows} };
my $r = Extraction::rng(33);
for my $k (0 .. 999) {
    my $row = $day1->{rows}[$r->($n)];
    my @f = ('') x 9;
    my $kind = $k % 6;
    if ($kind == 0) { $f[1] = substr($row->[10] || 'Jean', 0, 4); $f[3] = substr($row->[27], 6, 5) }
    elsif ($kind == 1) { $f[0] = substr($row->[9] || 'MARTIN', 0, 3) }
    elsif ($kind == 2) { $f[2] = substr($row->[28], 0, 3); $f[5] = substr($row->[14], 0, 5) }
    elsif ($kind == 3) { $f[7] = substr($row->[1], 0, 10) }
    elsif ($kind == 4) { $f[8] = $row->[3] || '10000000001' }
    else { $f[6] = 'centre hosp'; $f[4] = $row->[29] }
    my $l = join("\t", @f) . "\n";
    utf8::encode($l) if utf8::is_utf8($l);
    push @q, $l;
}
Sandbox::write_file("$dir/queries.tsv", join '', @q);
my $s = Sandbox::run($sb->build . '/bench/search_bench', $pg->{conninfo}, "$dir/queries.tsv");
my ($found, $p50, $p95, $p99) = $s =~ /found (\d+) p50 ([\d.]+) p95 ([\d.]+) p99 ([\d.]+)/;

printf "full load, %d rows, empty database\t%.1f s\t%.1f s (row-by-row INSERT)\t%.1f s (bare COPY)\t<= 3x COPY\n",
    $ROWS, $t_full, $t_naive, $t_floor;
printf "next day (+%d ~%d -%d rows written)\t%.1f s\t-\t%.1f s (bare COPY)\t<= 1.5x COPY\n", $i, $u, $d, $t_next, $t_floor;
printf "unchanged re-sync (0 rows written)\t%.1f s\t-\t%.1f s (bare COPY)\t-\n", $t_same, $t_floor;
printf "annuaire-sync peak RSS (largest of the 3 runs)\t%.0f MB\t-\t-\t< 64 MB\n",
    (sort { $b <=> $a } $rss_full, $rss_next, $rss_same)[0] / 1024;
printf "search p95 over 1000 queries (p50 %.2f, p99 %.2f ms; %d found)\t%.2f ms\t-\t-\tp95 < 5 ms, p99 < 10 ms\n",
    $p50, $p99, $found, $p95;
