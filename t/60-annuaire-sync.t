#!/usr/bin/perl
# annuaire-sync --extraction against the sandbox PostgreSQL: a generated
# 10k-row file loads with the generator's counts; the next day changes
# exactly the generated differences; a second identical run changes
# nothing; a run killed during COPY changes nothing; a 50% drop is refused
# without --force; bad headers and files are refused with their line.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(mkfifo);
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use Extraction;

binmode Test::More->builder->$_, ':encoding(UTF-8)' for qw(output failure_output);
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
# the indexes, and the constraints (a first load drops the primary key too)
my $indexes = "SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'annuaire_bal'"
    . " UNION ALL SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\\n' ORDER BY conname)"
    . " FROM pg_constraint WHERE conrelid = 'annuaire_bal'::regclass";
my $schema_indexes = $pg->{psql}->($indexes);

# sync - run annuaire-sync; returns (exit status, stdout, stderr)
sub sync {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-sync'), '-c', $conf, @_;
    my $out = qx{$cmd 2>$dir/err};
    return ($? >> 8, $out, Sandbox::slurp("$dir/err"));
}
sub count { my $r = $pg->{psql}->($_[0]); chomp $r; $r }
sub digest { count("SELECT md5(string_agg(address || row_hash || last_changed::text, ',' ORDER BY address)) FROM annuaire_bal") }

# --- day 1: 10,000 rows, 30 repeated rows, 4 malformed rows, CRLF, BOM, trailing '|'
my $day1 = Extraction::generate(seed => 11, rows => 10_000);
# Values PostgreSQL quotes when it prints a row: the row hash, computed
# while reading, must still be its md5(ROW(...)::text).
$day1->{rows}[5][9] = q{O'NEIL "JR" (DIT, LE) \\ BIS};
$day1->{rows}[5][18] = "CLINIQUE  DU\tPARC";
my $st = Extraction::write($day1, "$dir/day1.txt", duplicates => 30, malformed => 1,
                           crlf => 1, bom => 1, trailing_bar => 1);
my ($rc, $out, $err) = sync('--extraction', "$dir/day1.txt");
is($rc, 0, 'day 1 loads') or diag $err;
is($pg->{psql}->($indexes), $schema_indexes, 'a first load rebuilds every index it dropped, as the schema defines them');
is(count("SELECT count(*) FROM annuaire_bal"), 10_000, 'rows in the database = valid distinct rows of the generator');
like($out, qr/10034 lines read, 4 rejected, 30 duplicates collapsed; inserted 10000, updated 0, deleted 0/,
     'summary: read, rejected, duplicates, inserted');
for my $l (@{ $st->{rejected} }) {
    like($err, qr/rejected line $l: /, "malformed line $l reported with its number");
}
like($err, qr/line \d+: [34] columns, expected 31/, 'reason: column count');
like($err, qr/invalid address "not-an-address"/, 'reason: invalid address');
like($err, qr/unknown BAL type "XYZ"/, 'reason: unknown BAL type');
like($err, qr/not valid UTF-8/, 'reason: not UTF-8');
my ($sample) = grep { $_->[10] eq 'Hélène' && $_->[27] =~ /SAINT-ÉTIENNE/ } @{ $day1->{rows} };
ok($sample, 'the generator made a Hélène in Saint-Étienne');
my $back = $pg->{psql}->("SELECT first_name || '|' || last_name || '|' || postcode || '|' || city || '|' || bal_type "
                         . "FROM annuaire_bal WHERE address = '$sample->[1]'");
utf8::decode($back);
is($back,
   "$sample->[10]|$sample->[9]|42000|SAINT-ÉTIENNE|PER\n", 'a row read back: accents, postcode and city from L6');
my $cols = join ', ', qw(address bal_type id_type id_pp national_id structure_id_type structure_id service
    civility last_name first_name profession_category profession_category_label profession_code profession_label
    specialty_code specialty_label digitization org_name org_trade_name addr_complement addr_distribution
    addr_number addr_number_compl addr_street_type addr_street addr_locality addr_line6 postcode department
    country city liste_rouge);
is(count("SELECT count(*) FROM annuaire_bal WHERE row_hash = md5(ROW($cols)::text)"), 10_000,
   'every row hash computed while reading is PostgreSQL\'s md5 of the stored row');
is(count("SELECT last_name || '/' || org_name FROM annuaire_bal WHERE address = '$day1->{rows}[5][1]'"),
   qq{O'NEIL "JR" (DIT, LE) \\ BIS/CLINIQUE  DU\tPARC}, 'quotes, commas, parentheses, backslash and tab stored as read');
is(count("SELECT rows_read || '/' || rows_inserted || '/' || rows_rejected || '/' || status FROM sync_run ORDER BY id DESC LIMIT 1"),
   '10034/10000/4/ok', 'the run is recorded in sync_run');

# --- day 2: exactly the generated differences, then nothing
my ($day2, $diff) = Extraction::next_day($day1, seed => 12);
Extraction::write($day2, "$dir/day2.txt");
($rc, $out, $err) = sync('--dry-run', '--extraction', "$dir/day2.txt");
like($out, qr/dry run, nothing changed: .* would insert $diff->{inserted}, update $diff->{updated}, delete $diff->{deleted}/,
     "dry run announces +$diff->{inserted} ~$diff->{updated} -$diff->{deleted}");
is(count("SELECT count(*) FROM annuaire_bal"), 10_000, 'dry run changed nothing');
($rc, $out, $err) = sync('--extraction', "$dir/day2.txt");
like($out, qr/inserted $diff->{inserted}, updated $diff->{updated}, deleted $diff->{deleted}/,
     'next day: inserts, updates and deletes exactly the generated differences') or diag $out, $err;
is(count("SELECT count(*) FROM annuaire_bal"), scalar @{ $day2->{rows} }, 'row count follows');
my $before = digest();
($rc, $out, $err) = sync('--extraction', "$dir/day2.txt");
like($out, qr/inserted 0, updated 0, deleted 0/, 'the same file again: 0/0/0');
is(digest(), $before, 'and no row was rewritten (last_changed untouched)');

# --- killed during COPY: the previous data stays complete
mkfifo("$dir/fifo", 0600) or die "mkfifo: $!";
my $pid = fork // die;
if ($pid == 0) {
    open STDERR, ">", "$dir/killed.err";
    exec $sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/fifo";
    exit 127;
}
open my $fifo, '>', "$dir/fifo" or die;
my @l = split /(?<=\n)/, Sandbox::slurp("$dir/day1.txt");
print $fifo @l[0 .. 5000];
$fifo->flush;
my $end = time + 10;
sleep 0.1 until count("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY sync_stage%'") > 0 || time > $end;
kill 'KILL', $pid;
waitpid $pid, 0;
close $fifo;
is(count("SELECT count(*) FROM annuaire_bal"), scalar @{ $day2->{rows} }, 'killed during COPY: row count unchanged');
is(digest(), $before, 'killed during COPY: every row as before');
($rc, $out, $err) = sync('--extraction', "$dir/day2.txt");
ok($rc == 0 && $out =~ /inserted 0, updated 0, deleted 0/, 'the next run succeeds') or diag $err;
is(count("SELECT status || ':' || error FROM sync_run WHERE status <> 'ok' AND status <> 'dry-run' ORDER BY id DESC LIMIT 1"),
   'failed:interrupted', 'the killed run is marked interrupted');

# --- a 50% drop is refused without --force
my $half = { rows => [@{ $day2->{rows} }[0 .. int(@{ $day2->{rows} } / 2)]] };
Extraction::write($half, "$dir/half.txt");
($rc, $out, $err) = sync('--extraction', "$dir/half.txt");
is($rc, 1, 'a full sync dropping 50% of rows: exit 1');
like($err, qr/refused: this run would delete \d+ of \d+ rows \(49%.*--force.*database unchanged/, 'says why and how to override');
is(digest(), $before, 'database unchanged');
is(count("SELECT status FROM sync_run ORDER BY id DESC LIMIT 1"), 'refused', 'recorded as refused');
($rc, $out, $err) = sync('--force', '--extraction', "$dir/half.txt");
ok($rc == 0 && count("SELECT count(*) FROM annuaire_bal") == @{ $half->{rows} }, '--force applies it');

# --- bad files: nothing changes
$before = digest();
Sandbox::write_file("$dir/badhead.txt", "Type de BAL|Adresse|x\nPER|a\@b.fr|x\n");
($rc, $out, $err) = sync('--extraction', "$dir/badhead.txt");
ok($rc == 1 && $err =~ /badhead\.txt:1: header has 3 columns, expected 31/, 'short header refused');
my $h = join('|', @Extraction::HEADER);
$h =~ s/Nom d'exercice/Nom/;
utf8::encode($h);
Sandbox::write_file("$dir/badcol.txt", "$h\n");
($rc, $out, $err) = sync('--extraction', "$dir/badcol.txt");
ok($rc == 1 && $err =~ /header column 10 is "Nom", expected "Nom d'exercice"/, 'renamed column refused, named');
($rc, $out, $err) = sync('--extraction', "$dir/none.txt");
ok($rc == 1 && $err =~ /none\.txt: cannot open/, 'missing file: exit 1');
($rc, $out, $err) = sync('--db', "host=$pg->{socket_dir} port=1 dbname=x", '--extraction', "$dir/day2.txt");
ok($rc == 1 && $err =~ /cannot connect to PostgreSQL.*database unchanged/, 'PostgreSQL unreachable: exit 1');
is(digest(), $before, 'database unchanged by all of these');

# --- the file as published: inside a ZIP, and downloaded over HTTPS
my $web = "$dir/web";
mkdir $web;
system("cd $dir && zip -q -j $web/extraction.zip day2.txt") == 0 or die 'zip failed';
($rc, $out, $err) = sync('--extraction', "$web/extraction.zip");
is($rc, 0, 'the ZIP loads') or diag $err;
is(count("SELECT count(*) FROM annuaire_bal"), scalar @{ $day2->{rows} }, 'with the rows of the file inside');
my $https = $sb->https_server($web);
my $url = "https://localhost:$https->{port}/extraction.zip";
($rc, $out, $err) = sync('-o', "annuaire_https_ca=$sb->{pki}{bundle}", '--extraction', $url);
like($out, qr/^\Q$url\E: \d+ lines read, .*inserted 0, updated 0, deleted 0/, 'downloaded over HTTPS: the same file, nothing to change')
    or diag $err;
$before = digest();
($rc, $out, $err) = sync('--extraction', $url);
ok($rc == 1 && $err =~ /\Q$url\E: .*certificate/, 'a server the configured CAs do not vouch for: refused') or diag $err;
($rc, $out, $err) = sync('-o', "annuaire_https_ca=$sb->{pki}{bundle}", '--extraction', "https://localhost:$https->{port}/missing.zip");
ok($rc == 1 && $err =~ /missing\.zip: .*404/, 'HTTP 404: exit 1, named') or diag $err;
my $zip = Sandbox::slurp("$web/extraction.zip");
Sandbox::write_file("$dir/truncated.zip", substr($zip, 0, length($zip) / 2));
($rc, $out, $err) = sync('--extraction', "$dir/truncated.zip");
ok($rc == 1 && $err =~ /truncated\.zip: not a readable ZIP archive/, 'a truncated ZIP: refused') or diag $err;
my $flipped = $zip;
substr($flipped, int(length($zip) * 0.4), 1) ^= "\x55";         # inside the compressed text
Sandbox::write_file("$dir/damaged.zip", $flipped);
($rc, $out, $err) = sync('--extraction', "$dir/damaged.zip");
ok($rc == 1 && $err =~ /damaged\.zip: damaged archive: (CRC error|Zlib error)/ && $err =~ /database unchanged/,
   'damaged compressed data: refused, the archive named as damaged') or diag $err;
system("cd $dir && cp day1.txt other.txt && zip -q -j two.zip day1.txt other.txt && printf x > x.csv && zip -q -j csv.zip x.csv") == 0
    or die 'zip failed';
($rc, $out, $err) = sync('--extraction', "$dir/two.zip");
ok($rc == 1 && $err =~ /two\.zip: the ZIP holds several \.txt files/, 'a ZIP with two .txt files: refused, named');
($rc, $out, $err) = sync('--extraction', "$dir/csv.zip");
ok($rc == 1 && $err =~ /csv\.zip: the ZIP holds no \.txt extraction file/, 'a ZIP without one: refused');
is(digest(), $before, 'database unchanged by the bad archives and downloads');

# --- a first load, written straight into the empty table: of an address
# read three times, the last row, its hash and search form as if read once
$pg->{psql}->('TRUNCATE annuaire_bal');
my $three = Extraction::generate(seed => 13, rows => 3);
my @again = map { [@{ $three->{rows}[0] }] } 1 .. 2;
$again[0][9] = 'PREMIER';
$again[1][9] = 'ΣΩΚΡΆΤΗΣ DERNIER';    # folded by the server, not while reading
push @{ $three->{rows} }, @again;
Extraction::write($three, "$dir/three.txt");
($rc, $out, $err) = sync('--extraction', "$dir/three.txt");
like($out, qr/5 lines read, 0 rejected, 2 duplicates collapsed; inserted 3, updated 0, deleted 0/,
     'a first load with an address read three times: 3 rows') or diag $err;
utf8::encode(my $last = 'ΣΩΚΡΆΤΗΣ DERNIER');
is(count("SELECT last_name FROM annuaire_bal WHERE address = '$three->{rows}[0][1]'"), $last, 'the row read last is stored');
is(count("SELECT count(*) FROM annuaire_bal WHERE row_hash = md5(ROW($cols)::text) AND last_name_f = mssante_fold(last_name)"),
   3, 'with the hash and search form of what is stored');
is($pg->{psql}->($indexes), $schema_indexes, 'and every index built again');

# --- progress on a terminal only
unlike($err, qr/rows read/, 'no progress line when stderr is not a terminal');
my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$web/extraction.zip";
my $tty = qx{script -qec ${\ Sandbox::shell_quote($cmd) } /dev/null};
like($tty, qr/annuaire-sync: \d+ rows read, \d+ rejected; (comparing|writing)/, 'on a terminal, progress is shown') or diag $tty;
done_testing;
