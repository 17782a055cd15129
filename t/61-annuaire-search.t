#!/usr/bin/perl
# annuaire-search on a generated directory loaded by annuaire-sync: prefix,
# case- and accent-insensitive criteria; liste rouge never shown; JSON out.
# Expected answers are computed from the generator's rows, not from ours.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Sandbox;
use Extraction;

binmode Test::More->builder->$_, ':encoding(UTF-8)' for qw(output failure_output);
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $day = Extraction::generate(seed => 21, rows => 5000);
# Names the sync folds itself (ligature, typographic apostrophe, capital
# sharp s, combining accent) and ones it leaves to the server (Greek, a
# character beyond the BMP): the stored forms must be mssante_fold's.
my %odd = (10 => 'ŒUVRE-D’ARC', 11 => 'MÜLLER-STRAẞE', 12 => 'ΣΩΚΡΆΤΗΣ', 13 => "\x{1F600}SOURIRE",
           14 => "JOSE\x{301}PHINE");
$day->{rows}[$_][9] = $odd{$_} for keys %odd;
Extraction::write($day, "$dir/day.txt");
Sandbox::run($sb->bin('annuaire-sync'), '-c', $conf, '--extraction', "$dir/day.txt");
my $differ = $pg->{psql}->("SELECT count(*) FROM annuaire_bal WHERE last_name_f IS DISTINCT FROM mssante_fold(last_name)"
    . " OR first_name_f IS DISTINCT FROM mssante_fold(first_name) OR city_f IS DISTINCT FROM mssante_fold(city)"
    . " OR org_name_f IS DISTINCT FROM mssante_fold(org_name)"
    . " OR profession_f IS DISTINCT FROM mssante_fold(profession_label)");
is($differ, "0\n", 'every search form written by the sync is mssante_fold of its column');

# search - (exit status, decoded stdout)
sub search {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-search'), '-c', $conf, @_;
    utf8::encode($cmd);
    my $out = qx{$cmd 2>/dev/null};
    utf8::decode($out);
    return ($? >> 8, $out);
}
sub rows_of { my ($out) = @_; my @l = split /\n/, $out; shift @l; @l }

my @want = grep { ($_->[10] // '') eq 'Hélène' && $_->[27] =~ /SAINT-ÉTIENNE$/ } @{ $day->{rows} };
ok(@want >= 2, scalar(@want) . ' Hélène in Saint-Étienne in the generated data');
my ($rc, $out) = search('--prenom', 'helene', '--ville', 'saint-etienne', '--limit', 1000);
is($rc, 0, 'annuaire-search --prenom helene --ville saint-etienne: found');
my @got = rows_of($out);
is(scalar @got, scalar @want, 'as many answers as the generator made');
ok(!(grep { !/^\S+\s+Hélène\s+\S+\@\S+\s+42000\s+42\s+SAINT-ÉTIENNE\s/ } @got), 'every answer is a Hélène at 42000 SAINT-ÉTIENNE')
    or diag $out;
like($out, qr/^Nom\s+Prénom\s+Email MSSanté\s+CP\s+Département\s+Ville\s+Structure\s+Profession\s+RPPS\/ADELI$/m,
     'table header as the seed webmails');
my ($rc2, $out2) = search('--prenom', 'HÉLÈNE', '--ville', 'Saint Étienne', '--limit', 1000);
is(scalar(rows_of($out2)), scalar @want, 'same answers with accents, capitals and a space for the hyphen');

my $prefix = substr($want[0][9], 0, 3);
my @by_name = grep { ($_->[9] // '') =~ /^\Q$prefix\E/ && $_->[0] eq 'PER' } @{ $day->{rows} };
($rc, $out) = search('--nom', lc $prefix, '--limit', 10000);
is(scalar(rows_of($out)), scalar @by_name, "--nom " . lc($prefix) . ": prefix match, " . scalar(@by_name) . " answers");
($rc, $out) = search('--rpps', $want[0][3]);
like($out, qr/\Q$want[0][1]\E/, '--rpps finds the mailbox by its RPPS');
($rc, $out) = search('--email', substr($want[0][1], 0, 8), '--cp', '420', '--limit', 1000);
like($out, qr/\Q$want[0][1]\E/, '--email and --cp by prefix');
($rc, $out) = search('--rpps', "8$want[0][3]");
like($out, qr/\Q$want[0][1]\E/, '--rpps also takes the national id (8 + RPPS)');
for my $q (['oeuvre d\'arc', 10], ['muller-strasse', 11], ['josephine', 14]) {
    ($rc, $out) = search('--nom', $q->[0]);
    like($out, qr/\Q$day->{rows}[$q->[1]][1]\E/, "--nom '$q->[0]' finds $odd{$q->[1]}");
}
($rc, $out) = search('--nom', '%');
is($rc, 1, 'a "%" typed by the user is taken literally (no answer, exit 1)');
my $ep = substr($want[0][1], 0, 4);
my @by_mail = grep { lc($_->[1]) =~ /^\Q$ep\E/ } @{ $day->{rows} };
($rc, $out) = search('--email', uc $ep, '--limit', 10000);
is(scalar(rows_of($out)), scalar @by_mail, "--email " . uc($ep) . ": every address with the prefix, " . scalar(@by_mail) . " answers");
($rc, $out) = search('--email', '%');
is($rc, 1, 'and a "%" in an e-mail prefix is taken literally');

# liste rouge: kept out of every search
$pg->{psql}->("UPDATE annuaire_bal SET liste_rouge = true WHERE address = '$want[0][1]'");
($rc, $out) = search('--prenom', 'helene', '--ville', 'saint-etienne', '--limit', 1000);
is(scalar(rows_of($out)), @want - 1, 'a liste rouge mailbox is not returned');
unlike($out, qr/\Q$want[0][1]\E/, 'its address does not appear');
($rc, $out) = search('--rpps', $want[0][3]);
is($rc, 1, 'not even by its RPPS');

($rc, $out) = search('--json', '--prenom', 'helene', '--ville', 'saint-etienne', '--limit', 1000);
my $j = decode_json(do { my $b = $out; utf8::encode($b); $b });
is(scalar @$j, @want - 1, '--json: an array of the answers');
is($j->[0]{ville}, 'SAINT-ÉTIENNE', '--json: fields named as the webmail shows them');
ok(exists $j->[0]{rpps_adeli} && exists $j->[0]{email}, '--json: email and rpps_adeli present');

# the same search from SQL, as a webmail would call it
is($pg->{psql}->("SELECT count(*) FROM annuaire_search(prenom => 'helene', ville => 'saint-etienne', max_rows => 1000)"),
   (@want - 1) . "\n", 'SQL function annuaire_search() gives the same answers');

# Order: by name, and by address when the e-mail prefix is a criterion.
my $order = sub { [split /\n/, $pg->{psql}->("SELECT address FROM annuaire_search($_[0], max_rows => 200)")] };
my @shown = @{ $order->("email => 'a'") };
ok(@shown == 200, 'an e-mail prefix shared by many mailboxes: 200 answers');
is_deeply(\@shown, [sort @shown], 'in address order');
my $by_name = $pg->{psql}->("SELECT string_agg(address, ' ' ORDER BY last_name_f, first_name_f, address COLLATE \"C\")"
                            . " FROM (SELECT address, last_name_f, first_name_f FROM annuaire_bal"
                            . " WHERE last_name_f LIKE 'mar%' AND NOT liste_rouge"
                            . " ORDER BY last_name_f, first_name_f, address COLLATE \"C\" LIMIT 200) x");
is(join(' ', @{ $order->("nom => 'mar'") }) . "\n", $by_name, 'other searches in name order');
done_testing;
