#!/usr/bin/perl
# The directory as an LDAP address book for mail clients: annuaire-sync
# publishes annuaire_bal into a real slapd configured with the shipped
# conf/slapd-annuaire.ldif (cn=config, as Debian's slapd is). Searches a
# mail client makes find what annuaire-search finds, accents folded; the
# liste rouge is never published; the next day writes exactly the day's
# differences; a refused sync changes neither side; slapd down: PostgreSQL
# is updated, the publication fails visibly and catches up at the next run;
# --check-ldap compares the tree with PostgreSQL.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Encode qw(decode_utf8 encode_utf8);
use MIME::Base64 ();
use Test::More;
use Sandbox;
use Extraction;

binmode Test::More->builder->$_, ':encoding(UTF-8)' for qw(output failure_output);
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $psql = $pg->{psql};
my $base = 'ou=annuaire,dc=mssante,dc=test';
my $writer = "cn=annuaire-sync,$base";

# The shipped snippet with the sandbox's names and a password of its own.
my $snippet = Sandbox::slurp($sb->top . '/conf/slapd-annuaire.ldif');
chomp(my $hash = Sandbox::run('slappasswd', '-s', 'Ecriture-Annuaire'));
my $n = ($snippet =~ s/ou=annuaire,dc=example,dc=fr/$base/g)
      + ($snippet =~ s{^olcDbDirectory: /var/lib/ldap/annuaire$}{olcDbDirectory: \@DIR\@}m)
      + ($snippet =~ s/^olcRootPW: .*$/olcRootPW: $hash/m);
ok($n >= 5, 'conf/slapd-annuaire.ldif: the names, directory and password a sysadmin sets') or diag $n;
my $ld = $sb->slapd_config(ldif => $snippet);

Sandbox::write_file($conf, Sandbox::slurp($conf) . join '', map { "$_\n" }
    "annuaire_publish_uri = $ld->{ldapi}", "annuaire_publish_base = $base",
    "annuaire_publish_bind_dn = $writer", 'annuaire_publish_bind_password = Ecriture-Annuaire');
# The settings as shipped, then with the writes in LDAP transactions.
Sandbox::write_file("$dir/default.conf", Sandbox::slurp($conf));
Sandbox::write_file($conf, Sandbox::slurp($conf) . "annuaire_publish_transactions = yes\n");

sub sync {
    my (@args) = @_;
    my ($rc, $out, $err) = $sb->command('', $sb->bin('annuaire-sync'), '-c', $conf, @args);
    return ($rc, decode_utf8($out), decode_utf8($err));
}
# search - the mail values an anonymous client finds (as a mail client
# asks: a filter, at most the server's limit)
sub search {
    my ($filter, %o) = @_;
    my @auth = $o{all} ? ('-D', $writer, '-w', 'Ecriture-Annuaire', '-E', 'pr=1000/noprompt') : ('-z', 1000);
    my $out = qx{ldapsearch -x -LLL -o ldif-wrap=no -H $ld->{uri} @auth -b '$base' '${\ encode_utf8($filter)}' mail 2>&1};
    return sort map { lc } $out =~ /^mail: (\S+)$/mg;
}
# dump - every entry of the tree, address => its LDIF text
sub dump_tree {
    my $out = qx{ldapsearch -x -LLL -o ldif-wrap=no -H $ld->{uri} -D '$writer' -w Ecriture-Annuaire -E pr=1000/noprompt -b '$base' '(mail=*)' '*' 2>&1};
    my %t;
    for my $e (split /\n\n/, $out) {
        my ($m) = $e =~ /^mail: (\S+)$/m or next;
        $t{lc $m} = join "\n", sort grep { !/^(?:dn:|#)/ } split /\n/, $e;
    }
    return \%t;
}
# sql_search - what annuaire-search finds (its SQL function), addresses
sub sql_search {
    my ($arg, $value) = @_;
    my $v = $value =~ s/'/''/gr;
    return sort split /\n/, decode_utf8($psql->("SELECT address FROM annuaire_search($arg => '${\ encode_utf8($v)}', max_rows => 100000)"));
}

# ---------------------------------------------------------------- first publication
my $day = Extraction::generate(seed => 64, rows => 3000);
Extraction::write($day, "$dir/day1.txt");
my ($rc, $out, $err) = sync('--extraction', "$dir/day1.txt");
is($rc, 0, 'annuaire-sync: the directory loaded, then published') or diag "$out$err";
like($out, qr/^LDAP address book \Q$ld->{ldapi}\E: written 3000, deleted 0$/m, 'it says what it wrote');
is($psql->("SELECT ldap_status || ' ' || ldap_written FROM sync_run ORDER BY id DESC LIMIT 1"), "ok 3000\n",
   'the run\'s sync_run row records the publication');
my %ended = map { $_ => 1 } Sandbox::slurp($ld->{log}) =~ /conn=(\d+) op=\d+ EXT oid=1\.3\.6\.1\.1\.21\.3\b/g;
is(scalar keys %ended, 2, 'its transactions ended on two connections in turn');
my $tree = dump_tree();
is(scalar keys %$tree, 3000, '3,000 entries in slapd');
my ($someone) = grep { /^l: /m && /^givenName: /m } values %$tree;
like($someone, qr/^employeeType: PER$/m, 'an entry: the BAL type (employeeType)');
like($someone, qr/^employeeNumber: 8\d{11}$/m, 'its RPPS national identifier (employeeNumber)');
like($someone, qr/^title: /m, 'its profession (title)');
like($someone, qr/^st: \w\w$/m, 'its department (st)');
# Each entry named uid=HASH: the first 16 hex digits of the SHA-256 of its address.
my ($named, @misnamed) = (0);
for my $e (split /\n\n/, scalar qx{ldapsearch -x -LLL -o ldif-wrap=no -H $ld->{uri} -D '$writer' -w Ecriture-Annuaire -E pr=1000/noprompt -b '$base' '(mail=*)' mail uid 2>&1}) {
    my ($dn, $m, $uid) = ($e =~ /^dn: (.*)$/m, $e =~ /^mail: (\S+)$/m, $e =~ /^uid: (\S+)$/m);
    next unless defined $m;
    my $h = substr(sha256_hex($m), 0, 16);
    $named++;
    push @misnamed, $dn if $dn ne "uid=$h,$base" || ($uid // '') ne $h;
}
is("$named entries, misnamed: @misnamed", '3000 entries, misnamed: ', 'every entry is uid=HASH of its address, with that uid');

# A client shows the first value: the name as written, accents and all.
my $raw = qx{ldapsearch -x -LLL -o ldif-wrap=no -H $ld->{uri} -z 1 -b '$base' '(sn=lefevre)' sn l 2>&1};
my ($colons, $first_sn) = $raw =~ /^sn(::?) (.*)$/m;
ok(defined $first_sn, 'an entry found by (sn=lefevre)') or diag $raw;
is(decode_utf8(($colons // '') eq '::' ? MIME::Base64::decode_base64($first_sn) : $first_sn // ''), 'LEFÈVRE',
   'its first sn value is LEFÈVRE, as written') or diag $raw;
ok($raw =~ /^sn: lefevre$/m, 'the unaccented spelling follows');

# The same criteria as annuaire-search, typed without accents: one per field.
my %seen;
my $org = (grep { /^employeeType: ORG$/m } values %$tree)[0];
my @criteria = (
    ['nom', 'sn', 'lefevre'], ['prenom', 'givenName', 'helene'], ['cp', 'postalCode', '420'],
    ['ville', 'l', 'saint-etienne'], ['ville', 'l', 'saint etienne'], ['departement', 'st', '2A', 'eq'],
    ['profession', 'title', 'masseur-kine'], ['structure', 'o', 'centre hospitalier de saint-e'],
    ['email', 'mail', 'jean-marie.'],
);
for my $c (@criteria) {
    my ($arg, $attr, $v, $eq) = @$c;
    my @sql = sql_search($arg, $v);
    my @ldap = search($eq ? "($attr=$v)" : "($attr=$v*)", all => 1);
    ok(@sql > 0 && "@ldap" eq "@sql", "($attr=$v" . ($eq ? '' : '*') . ") finds what annuaire-search --$arg finds ("
       . scalar(@sql) . ')') or diag scalar(@ldap) . ' in LDAP, ' . scalar(@sql) . ' in SQL';
}
# Thunderbird's own query, against the union of what annuaire-search finds
# by name, first name and address.
my %union = map { $_ => 1 } map { sql_search($_, 'dup') } qw(nom prenom email);
my @tb = search('(|(cn=dup*)(mail=dup*)(sn=dup*)(givenName=dup*))', all => 1);
ok(%union && "@tb" eq join(' ', sort keys %union),
   'Thunderbird\'s (|(cn=dup*)(mail=dup*)(sn=dup*)(givenName=dup*)): ' . scalar(@tb) . ' entries, as annuaire-search');
my @limited = search('(mail=*)');
is(scalar @limited, 200, 'an anonymous client asking for 1,000 entries gets 200 (the hard limit)');

# ---------------------------------------------------------------- liste rouge, --publish
my @red = (sort keys %$tree)[0 .. 2];
my $red = "'" . join("','", @red) . "'";
$psql->("UPDATE annuaire_bal SET liste_rouge = true WHERE address IN ($red)");
($rc, $out, $err) = sync('--publish');
is($rc, 0, 'annuaire-sync --publish') or diag "$out$err";
like($out, qr/written 0, deleted 3$/m, 'three entries put on the liste rouge: deleted, nothing else written');
is(join(',', map { search("(mail=$_)", all => 1) } @red), '', 'a liste-rouge entry is never returned');
($rc, $out) = sync('--check-ldap');
is($rc, 0, '--check-ldap: the tree and PostgreSQL agree') or diag $out;
like($out, qr/2997 entries read.*missing from LDAP: 0; in LDAP but not to publish: 0; different: 0/s, 'with the counts');
$psql->("UPDATE annuaire_bal SET liste_rouge = false WHERE address IN ($red)");
($rc, $out, $err) = sync('--publish');
like($out, qr/written 3, deleted 0$/m, 'off the liste rouge: published again') or diag "$out$err";

# ---------------------------------------------------------------- the next day
my $before = dump_tree();
my ($day2, $diff) = Extraction::next_day($day, seed => 65);
Extraction::write($day2, "$dir/day2.txt");
($rc, $out, $err) = sync('--extraction', "$dir/day2.txt");
is($rc, 0, 'the next day synced') or diag "$out$err";
my %old = map { lc($_->[1]) => $_ } @{ $day->{rows} };
my %new = map { lc($_->[1]) => $_ } @{ $day2->{rows} };
my @expect = sort grep { !$old{$_} || !$new{$_} || join('|', @{ $old{$_} }) ne join('|', @{ $new{$_} }) }
             keys %{ { %old, %new } };
my $after = dump_tree();
my @changed = sort grep { ($before->{$_} // '') ne ($after->{$_} // '') } keys %{ { %$before, %$after } };
is(scalar @changed, $diff->{inserted} + $diff->{updated} + $diff->{deleted},
   "entries that differ in LDAP: $diff->{inserted} added, $diff->{updated} changed, $diff->{deleted} removed")
    or diag scalar(@changed) . ' differ';
is("@changed", "@expect", 'exactly the generator\'s added, changed and removed entries');
is($psql->('SELECT count(*) FROM annuaire_ldap_pending'), "0\n", 'nothing left pending once the tree holds it all');

# ---------------------------------------------------------------- refused by the deletion guard
my @half = @{ $day2->{rows} }[0 .. 999];
Extraction::write({ rows => \@half, seed => 66 }, "$dir/half.txt");
my $rows_before = $psql->("SELECT count(*), md5(string_agg(address || row_hash, ',' ORDER BY address)) FROM annuaire_bal");
($rc, $out, $err) = sync('--extraction', "$dir/half.txt");
is($rc, 1, 'a file with a third of the rows: refused') or diag "$out$err";
like($err, qr/refused: this run would delete/, 'by the deletion guard');
is($psql->("SELECT count(*), md5(string_agg(address || row_hash, ',' ORDER BY address)) FROM annuaire_bal"), $rows_before,
   'PostgreSQL unchanged');
is_deeply(dump_tree(), $after, 'LDAP unchanged');

# ---------------------------------------------------------------- slapd down during a sync
my ($day3, $diff3) = Extraction::next_day($day2, seed => 67);
Extraction::write($day3, "$dir/day3.txt");
$ld->{stop}->();
($rc, $out, $err) = sync('--extraction', "$dir/day3.txt");
is($rc, 1, 'slapd down: exit 1') or diag "$out$err";
like($err, qr/LDAP address book is behind \(it catches up at the next run\): \Q$ld->{ldapi}\E/,
     'it says the address book is behind, and why');
is($psql->("SELECT status || ' ' || ldap_status || ' ' || rows_inserted FROM sync_run WHERE source = 'extraction' ORDER BY id DESC LIMIT 1"),
   "ok failed $diff3->{inserted}\n", 'sync_run: the sync ok, the publication failed');
is($psql->('SELECT count(*) FROM annuaire_bal'), scalar(@{ $day3->{rows} }) . "\n", 'PostgreSQL is updated');
is($psql->('SELECT count(*) FROM annuaire_ldap_pending'), ($diff3->{inserted} + $diff3->{updated} + $diff3->{deleted}) . "\n",
   'the day\'s mailboxes noted as pending, in the sync\'s transaction');
$ld->{start}->();
($rc, $out) = sync('--check-ldap');
is($rc, 1, '--check-ldap: the tree is behind') or diag $out;
like($out, qr/missing from LDAP: $diff3->{inserted}; in LDAP but not to publish: $diff3->{deleted}; different: $diff3->{updated}/,
     'by the day\'s differences');
($rc, $out, $err) = sync('--extraction', "$dir/day3.txt");
is($rc, 0, 'the next run') or diag "$out$err";
like($out, qr/inserted 0, updated 0, deleted 0 .*\nLDAP address book .*: written @{[ $diff3->{inserted} + $diff3->{updated} ]}, deleted $diff3->{deleted}$/s,
     'nothing new for PostgreSQL; the address book catches up');
($rc, $out) = sync('--check-ldap');
is($rc, 0, '--check-ldap: in step again') or diag $out;

# ---------------------------------------------------------------- a first load over a published tree
# Its rows are not noted one by one: the next publication compares everything.
my ($day4, $diff4) = Extraction::next_day($day3, seed => 68);
Extraction::write($day4, "$dir/day4.txt");
$psql->('TRUNCATE annuaire_bal');
($rc, $out, $err) = sync('--extraction', "$dir/day4.txt");
is($rc, 0, 'a first load into the emptied table, the tree published') or diag "$out$err";
like($out, qr/inserted ${\ scalar @{ $day4->{rows} }}, .*\nLDAP address book .*: written @{[ $diff4->{inserted} + $diff4->{updated} ]}, deleted $diff4->{deleted}$/s,
     'the publication compared the whole directory: the day\'s differences written');
($rc, $out) = sync('--check-ldap');
is($rc, 0, '--check-ldap: in step') or diag $out;
is($psql->('SELECT count(*) FROM annuaire_ldap_pending'), "0\n", 'nothing left pending');

# ---------------------------------------------------------------- a first publication by slapadd
$ld->{stop}->();
Sandbox::run('sh', '-c', "rm -rf $ld->{dir}/db/*");
($rc, $out, $err) = sync('--ldif', "$dir/annuaire.ldif");
is($rc, 0, '--ldif: the whole address book as LDIF') or diag "$out$err";
my $count = $psql->('SELECT count(*) FROM annuaire_bal WHERE NOT liste_rouge') + 0;
like($out, qr/^\Q$dir\E\/annuaire\.ldif: $count entries under \Q$base\E, recorded as published/m, 'it says how many');
ok(!-e "$dir/annuaire.ldif.tmp", 'no temporary file left');
my ($src, $sout) = $sb->command('', 'slapadd', '-q', '-F', "$ld->{dir}/cfg", '-b', $base, '-l', "$dir/annuaire.ldif");
is($src, 0, 'slapadd -q loads it into the empty tree') or diag $sout;
$ld->{start}->();
($rc, $out) = sync('--check-ldap');
is($rc, 0, '--check-ldap: the tree loaded by slapadd agrees with PostgreSQL') or diag $out;
($rc, $out) = sync('--publish');
like($out, qr/written 0, deleted 0$/m, 'and the next publication has nothing to write');
# ---------------------------------------------------------------- one transaction refused: each request alone
# Written in LDAP transactions; when the server refuses one of their
# requests, the others are written all the same, one by one: an entry
# missing from the tree, one the record forgot, one the schema refuses.
my ($ma, $mb, $mc) = split /\n/, $psql->("SELECT address FROM annuaire_bal WHERE NOT liste_rouge ORDER BY address LIMIT 3");
$psql->("DELETE FROM annuaire_ldap WHERE address = '$mb'");
($rc, $out, $err) = sync('--publish');
like($out, qr/written 0, deleted 0$/m, '--publish compares only the mailboxes written since: a record changed by hand is not seen')
    or diag "$out$err";
Sandbox::run('ldapdelete', '-x', '-H', $ld->{uri}, '-D', $writer, '-w', 'Ecriture-Annuaire', 'uid=' . substr(sha256_hex($ma), 0, 16) . ",$base");
$psql->("UPDATE annuaire_bal SET city = 'AILLEURS', row_hash = 'changed' WHERE address IN ('$ma', '$mc')");
$psql->("INSERT INTO annuaire_bal (address, bal_type, last_name, source, row_hash) VALUES ('jos' || chr(233) || '\@a.mssante.test', 'PER', 'REFUS', 'test', 'x')");
($rc, $out, $err) = sync('--publish', '--full');
is($rc, 1, '--publish --full, an entry refused: exit 1') or diag "$out$err";
like($err, qr/jos\x{e9}\@a\.mssante\.test refused: Invalid syntax/, 'it is named, with the server\'s reason');
like($err, qr/1 entry refused .*; written 3, deleted 0$/m, 'the three others written') or diag "$out$err";
is(join(',', map { (search("(mail=$_)"))[0] // 'none' } $ma, $mb, $mc), "$ma,$mb,$mc", 'all three in the tree');
like(scalar qx{ldapsearch -x -LLL -H $ld->{uri} -b '$base' '(mail=$ma)' l}, qr/^l: AILLEURS$/m, 'the missing entry added with its new values');
like(Sandbox::slurp($ld->{log}), qr/EXT oid=1\.3\.6\.1\.1\.21\.1/, 'slapd was asked for transactions');
$psql->("DELETE FROM annuaire_bal WHERE source = 'test'");
($rc, $out) = sync('--check-ldap');
is($rc, 0, '--check-ldap: in step') or diag $out;
# ---------------------------------------------------------------- as shipped: no transaction
my $logged = length Sandbox::slurp($ld->{log});
$psql->("UPDATE annuaire_bal SET city = 'AILLEURS ENCORE', row_hash = 'again' WHERE address = '$mc'");
($rc, $out, $err) = $sb->command('', $sb->bin('annuaire-sync'), '-c', "$dir/default.conf", '--publish');
like($out, qr/written 1, deleted 0$/m, 'annuaire_publish_transactions unset: the change written') or diag "$out$err";
like(scalar qx{ldapsearch -x -LLL -H $ld->{uri} -b '$base' '(mail=$mc)' l}, qr/^l: AILLEURS ENCORE$/m, 'slapd holds it');
my $since = substr(Sandbox::slurp($ld->{log}), $logged);
like($since, qr/ MOD dn="uid=/, 'written as a modification');
unlike($since, qr/EXT oid=1\.3\.6\.1\.1\.21\./, 'outside any transaction');
($rc, $out, $err) = sync('--full', '--check-ldap');
is($rc, 2, '--full without --publish: a usage error') or diag "$out$err";

Sandbox::write_file("$dir/annuaire.ldif", "kept\n");
($rc, $out, $err) = sync('-o', 'database=dbname=nowhere host=/nonexistent', '--ldif', "$dir/annuaire.ldif");
is($rc, 1, '--ldif without the database: exit 1');
is(Sandbox::slurp("$dir/annuaire.ldif"), "kept\n", 'the file in place is left as it was');

# ---------------------------------------------------------------- bad settings
($rc, $out, $err) = sync('-o', 'annuaire_publish_base=ou=autre,dc=nulle,dc=part', '--publish');
is($rc, 1, 'a base outside the tree: exit 1');
like($err, qr/ou=autre,dc=nulle,dc=part/, 'the error names it');
($rc, $out, $err) = sync('-o', 'annuaire_publish_bind_password=wrong', '--publish');
like($err, qr/bind as \Q$writer\E: Invalid credentials/, 'a wrong password: the bind is refused, named');
unlike("$out$err", qr/Ecriture-Annuaire/, 'the password is never printed');

# ---------------------------------------------------------------- a tree published before 018_ldap_pending
# What it lacks is not known: the first publication after the upgrade compares everything.
my $old = "$dir/schema-017";
mkdir $old or die "$old: $!";
Sandbox::write_file("$old/$_", Sandbox::slurp($sb->top . "/schema/$_"))
    for grep { $_ lt '018' } map { m{([^/]+)$} } glob($sb->top . '/schema/0*.sql');
$psql->('CREATE DATABASE before018 OWNER mssante', $pg->{superuser});
(my $ci = $pg->{conninfo}) =~ s/dbname=mssante/dbname=before018/;
Sandbox::run($sb->bin('mssante-db'), '--db', $ci, '--schema-dir', $old, 'migrate');
$psql->("INSERT INTO annuaire_ldap VALUES ('publie\@a.mssante.test', 'h', NULL)", $ci);
Sandbox::run($sb->bin('mssante-db'), '--db', $ci, '--schema-dir', $sb->top . '/schema', 'migrate');
is($psql->('SELECT string_agg(address, \',\') FROM annuaire_ldap_pending', $ci), "*\n",
   'migrated with a published tree: its next publication compares everything');

done_testing;
