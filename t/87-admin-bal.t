#!/usr/bin/perl
# mssante-admin bal, owner, delegate and import: BALs with the national
# metadata, an account owning two BALs and a delegate of an ORG BAL logging
# in through the real Dovecot (mssante_otp passdb) to the BAL they asked
# for, a disabled BAL refused; the request form imported from CSV: a dry run
# changes nothing, --apply makes exactly the rows, a file with bad rows
# changes nothing and names each bad line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n");
sub q1 { my $r = $pg->{psql}->($_[0]); chomp $r; $r }
my $admin = $sb->bin('mssante-admin');
my $otp = $sb->bin('mssante-otp');

# adm - mssante-admin with a standard input; (exit status, stdout, stderr)
sub adm { my ($stdin, @args) = @_; $sb->command($stdin, $admin, '-c', $conf, @args) }
sub ok_adm { my ($rc, $out, $err) = adm(@_); is($rc, 0, "mssante-admin @_[1 .. $#_]") or diag $err; $out }
sub refused {
    my ($re, $name, @args) = @_;
    my ($rc, undef, $err) = adm('', @args);
    ok($rc == 1 && $err =~ $re, $name) or diag "exit $rc: $err";
}
# The man page's example file is one the command takes.
my ($example) = Sandbox::slurp("$FindBin::Bin/../man/mssante-admin.8") =~ /^An import file:\n\.nf\n(.*?)^\.fi$/ms;
Sandbox::write_file("$dir/example.csv", $example // '');
my ($rc, $out, $err) = adm('', '-o', 'our_domains=ch.mssante.fr', 'import', "$dir/example.csv");
ok($rc == 0 && $out =~ /3 rows: would make 3 accounts .*2 BALs \(PER 1, ORG 1, APP 0, CAB 0\), 1 delegates/,
   "the man page's example file imports") or diag $out, $err;
my $pw = "Mot-de-passe-assez-long\n";
ok_adm($pw, qw(account add jean.dupont --last-name DUPONT --first-name Jean --contact jean@perso.test));
ok_adm($pw, qw(account add marie.curie --last-name CURIE --first-name Marie --contact marie@perso.test));
ok_adm($pw, qw(account add paul.martin --civility M. --last-name MARTIN --first-name Paul --phone), '+33 5 56 00 00 00');

# --- BALs, with what the Annuaire needs of each type
my $nbal = sub { q1('SELECT count(*) FROM bal') };
ok_adm('', qw(bal add jean.dupont@a.mssante.test --owner jean.dupont --rpps-adeli 10001234567 --notification),
       'jean@perso.test');
is(q1("SELECT bal_type || ' ' || id_nat || ' ' || notify_email FROM bal WHERE address = 'jean.dupont\@a.mssante.test'"),
   'PER 810001234567 jean@perso.test', 'a PER BAL: the RPPS stored as the national identifier ("8" + RPPS)');
ok_adm('', qw(bal add Jean.Dupont.Cabinet@A.mssante.test --owner jean.dupont --rpps-adeli 331234567 --service),
       'Cabinet de Pessac');
is(q1("SELECT id_nat FROM bal WHERE address = 'jean.dupont.cabinet\@a.mssante.test'"), '0331234567',
   'a second BAL of the same account (another place of practice), ADELI as "0" + ADELI, address in lower case');
ok_adm('', qw(bal add cardio.chu@a.mssante.test --type ORG --finess 330781196 --owner marie.curie --service),
       'Cardiologie', '--description', 'Secrétariat; consultations');
my $before = $nbal->();
refused(qr/a PER BAL needs its holder's RPPS or ADELI/, 'a PER BAL without RPPS/ADELI: refused',
        qw(bal add sans.rpps@a.mssante.test --owner paul.martin));
refused(qr/not in one of our domains/, 'an address outside our_domains: refused',
        qw(bal add paul.martin@ailleurs.test --owner paul.martin --rpps-adeli 10001234568));
refused(qr/an ORG BAL needs its structure's FINESS/, 'an ORG BAL without FINESS: refused',
        qw(bal add urgences@a.mssante.test --type ORG --owner paul.martin));
refused(qr/an ORG BAL needs its owner \(--owner LOGIN: its responsible\)/, 'an ORG BAL without its responsible: refused',
        qw(bal add urgences@a.mssante.test --type ORG --finess 330781196));
refused(qr/"12345" is neither an RPPS/, 'a malformed RPPS: refused, the value named',
        qw(bal add paul.martin@a.mssante.test --owner paul.martin --rpps-adeli 12345));
refused(qr/cardio\.chu\@a\.mssante\.test exists already/, 'the same address twice: refused',
        qw(bal add cardio.chu@a.mssante.test --type ORG --finess 330781196 --owner paul.martin));
refused(qr/personne: no such login/, 'an owner that does not exist: refused',
        qw(bal add paul.martin@a.mssante.test --owner personne --rpps-adeli 10001234568));
is($nbal->(), $before, 'no refusal left a BAL behind');

($rc, $out) = adm('', qw(bal show cardio.chu@a.mssante.test --json));
my $json = JSON::PP->new;                  # bytes in, bytes out: as psql and this file
my $j = eval { $json->decode($out) } || {};
is_deeply([@$j{qw(type owner finess service description liste_rouge state)}],
          ['ORG', 'marie.curie', '330781196', 'Cardiologie', 'Secrétariat; consultations', JSON::PP::false, 'active'],
          'bal show --json: type, responsible, FINESS, service, description, liste rouge');
ok_adm('', qw(bal set cardio.chu@a.mssante.test --liste-rouge oui --description), '');
($rc, $out) = adm('', qw(bal show cardio.chu@a.mssante.test --json));
$j = eval { $json->decode($out) } || {};
is_deeply([@$j{qw(liste_rouge description service)}], [JSON::PP::true, undef, 'Cardiologie'],
          'bal set: the field given changes, an empty one is cleared, the others stay');

ok_adm('', qw(delegate add cardio.chu@a.mssante.test paul.martin));
like(ok_adm('', qw(delegate list cardio.chu@a.mssante.test)), qr/^paul\.martin\s+MARTIN\s+Paul/m, 'delegate list');
refused(qr/marie\.curie owns cardio\.chu\@a\.mssante\.test already/, 'the owner as a delegate: refused',
        qw(delegate add cardio.chu@a.mssante.test marie.curie));

# --- logins through the real Dovecot, with device passwords
my %dev;
for my $l (qw(jean.dupont paul.martin)) {
    ($dev{$l}) = Sandbox::run($otp, '-c', $conf, 'device', 'add', $l, 'test') =~ /^(d\d+-\S+)$/m
        or BAIL_OUT("device add $l");
}
# As the shipped snippet: '*' joins the BAL and the login.
my $dc = $sb->dovecot(auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                      passdb => "  driver = mssante_otp\n  args = $conf",
                      extra => "auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_\@*\n");
# login - (status, the BAL the audit trail says was opened)
sub login {
    my ($user, $pass) = @_;
    my $imap = $sb->imap($dc->{imap_port}, $user, $pass);
    my $st = $imap->login_ok ? 'OK' : 'NO';
    $imap->logout;
    my $bal = q1("SELECT coalesce(bal, '-') || ' ' || result FROM audit_event WHERE action = 'login'"
                 . " ORDER BY id DESC LIMIT 1");
    return "$st $bal";
}
is(login('jean.dupont', $dev{'jean.dupont'}), 'OK jean.dupont.cabinet@a.mssante.test ok',
   'an account owning two BALs logs in; with no default set, its first BAL in address order');
ok_adm('', qw(account default-bal jean.dupont jean.dupont@a.mssante.test));
is(login('jean.dupont', $dev{'jean.dupont'}), 'OK jean.dupont@a.mssante.test ok',
   'after account default-bal, prenom.nom opens the BAL chosen');
is(login('jean.dupont.cabinet@a.mssante.test*jean.dupont', $dev{'jean.dupont'}),
   'OK jean.dupont.cabinet@a.mssante.test ok', 'BAL*prenom.nom opens the other BAL it owns');
is(login('cardio.chu@a.mssante.test*paul.martin', $dev{'paul.martin'}), 'OK cardio.chu@a.mssante.test ok',
   'a delegate opens the ORG BAL');
like(login('cardio.chu@a.mssante.test*jean.dupont', $dev{'jean.dupont'}), qr/^NO .* not-delegate$/,
     'an account that is not a delegate: refused');
refused(qr/jean\.dupont may not open cardio\.chu/, 'default-bal to a BAL it may not open: refused',
        qw(account default-bal jean.dupont cardio.chu@a.mssante.test));

ok_adm('', qw(bal disable jean.dupont.cabinet@a.mssante.test));
like(login('jean.dupont.cabinet@a.mssante.test*jean.dupont', $dev{'jean.dupont'}), qr/^NO .* bal-disabled$/,
     'a disabled BAL: refused, even with the right credentials');
is(login('jean.dupont', $dev{'jean.dupont'}), 'OK jean.dupont@a.mssante.test ok', 'its other BAL still opens');
ok_adm('', qw(bal enable jean.dupont.cabinet@a.mssante.test));
ok_adm('', qw(bal disable jean.dupont@a.mssante.test));
is(login('jean.dupont', $dev{'jean.dupont'}), 'OK jean.dupont.cabinet@a.mssante.test ok',
   'its default BAL disabled: prenom.nom opens the other one it owns');
ok_adm('', qw(bal disable jean.dupont.cabinet@a.mssante.test));
like(login('jean.dupont', $dev{'jean.dupont'}), qr/^NO .* bal-disabled$/, 'both disabled: refused');
ok_adm('', qw(bal enable jean.dupont@a.mssante.test));
ok_adm('', qw(bal enable jean.dupont.cabinet@a.mssante.test));
like(login('jean.dupont.cabinet@a.mssante.test*jean.dupont', $dev{'jean.dupont'}), qr/^OK /, 'enabled again');
ok(q1("SELECT last_login_at IS NOT NULL FROM bal WHERE address = 'cardio.chu\@a.mssante.test'") eq 't',
   'the BAL records its last login (for inactive BALs)');

# --- owners, and deleting an account
($rc, undef, $err) = adm('', qw(account delete marie.curie));
ok($rc == 1 && $err =~ /marie\.curie owns cardio\.chu\@a\.mssante\.test/,
   'deleting the responsible of an ORG BAL: refused, the BAL named') or diag $err;
ok_adm('', qw(owner add cardio.chu@a.mssante.test paul.martin));
is(q1("SELECT string_agg(a.login || ':' || x.role, ' ' ORDER BY a.login) FROM bal_access x"
      . " JOIN account a ON a.id = x.account_id WHERE x.bal = 'cardio.chu\@a.mssante.test'"),
   'paul.martin:owner', 'owner add hands the BAL over (the delegate becomes its responsible)');
ok_adm('', qw(account delete marie.curie));
is(q1("SELECT count(*) FROM account WHERE login = 'marie.curie'"), 0, 'then the account is deleted');
ok_adm('', qw(bal delete jean.dupont.cabinet@a.mssante.test));
is(q1("SELECT count(*) FROM bal_access WHERE bal = 'jean.dupont.cabinet\@a.mssante.test'"), 0,
   'bal delete removes who could open it');
like(ok_adm('', qw(bal list)), qr/^cardio\.chu\@a\.mssante\.test\s+ORG\s+active\s+paul\.martin\s+0\s+t$/m,
     'bal list as a table');

# --- import of the request form
# form - a CSV of n PER doctors, each with a new account, and m ORG BALs with
# their responsible and two delegates taken among the doctors; @bad: [line, column, value]
my @cols = qw(login civilite nom prenom email_contact telephone bal type role rpps_adeli finess service description liste_rouge);
sub form_csv {
    my ($p, $n, $m, $sep, @bad) = @_;
    my @rows;
    for my $i (1 .. $n) {
        push @rows, {login => "$p.$i", civilite => 'Dr', nom => "NOM$i", prenom => "Prenom$i",
                     email_contact => "$p$i\@perso.test", telephone => '05 56 00 00 00',
                     bal => "$p.$i\@a.mssante.test", type => 'PER', role => 'titulaire',
                     rpps_adeli => sprintf('1%010d', $i), liste_rouge => $i % 10 ? 'non' : 'oui'};
    }
    for my $k (1 .. $m) {
        push @rows, {login => "$p.resp.$k", nom => "RESP$k", prenom => "Resp$k", email_contact => "resp$k\@perso.test",
                     bal => "$p.service$k\@a.mssante.test", type => 'ORG', role => 'titulaire',
                     finess => '330781196', service => "Service $k", description => "Accueil; secrétariat $k"};
        push @rows, map { {login => "$p.$_", bal => "$p.service$k\@a.mssante.test", role => 'delegue'} }
            ($k, $k + 1);
    }
    for my $b (@bad) { $rows[$b->[0] - 2]{$b->[1]} = $b->[2] }
    my $q = sub { my $v = $_[0] // ''; $v =~ /[;,"\n]/ ? do { $v =~ s/"/""/g; "\"$v\"" } : $v };
    return "\xef\xbb\xbf" . join('', map { join($sep, map { $q->($_) } @$_) . "\r\n" }
                             \@cols, map { [@$_{@cols}] } @rows);
}
my %count = map { $_ => q1("SELECT count(*) FROM $_") } qw(account bal bal_access);
my $counts = sub { join ' ', map { q1("SELECT count(*) FROM $_") - $count{$_} } qw(account bal bal_access) };
open my $fh, '>', "$dir/form.csv" or die;
print $fh form_csv('doc', 130, 10, ';');                   # 130 + 10 * 3 = 160 rows
close $fh;
($rc, $out, $err) = adm('', 'import', "$dir/form.csv");
ok($rc == 0 && $out =~ /160 rows: would make 140 accounts \(0 existing given BALs\), 140 BALs \(PER 130, ORG 10,/,
   'a dry run of 160 rows says what it would make') or diag $out, $err;
is($counts->(), '0 0 0', 'and changes nothing');
($rc, $out, $err) = adm('', 'import', "$dir/form.csv", '--apply', '--passwords', "$dir/pw.txt");
is($rc, 0, 'import --apply') or diag $err;
is($counts->(), '140 140 160', 'exactly the accounts, BALs and rights of the rows');
is(q1("SELECT count(*) FROM bal WHERE liste_rouge AND address LIKE 'doc.%'"), 13, 'liste rouge as the form says');
is(q1("SELECT description FROM bal WHERE address = 'doc.service3\@a.mssante.test'"), 'Accueil; secrétariat 3',
   'a quoted field holding the separator, in UTF-8');
is(q1("SELECT default_bal FROM account WHERE login = 'doc.7'"), 'doc.7@a.mssante.test', 'the default BAL set');
is(sprintf('%o', (stat "$dir/pw.txt")[2] & 07777), '600', 'the passwords file is mode 0600');
my ($doc7) = Sandbox::slurp("$dir/pw.txt") =~ /^doc\.7;(\S+)$/m;
my $imap = $sb->imap($dc->{imap_port}, 'doc.7', $doc7 // 'none');
like($imap->login_text, qr/second factor is required/, "an imported account's password is right (a second factor asked)");
$imap->logout;
is(q1("SELECT count(*) FROM audit_event WHERE request LIKE '%import $dir/form.csv%'"), 300,
   'one audit row per account, BAL and delegate made');

# Three bad rows: nothing at all, each named by line and column.
open $fh, '>', "$dir/bad.csv" or die;
print $fh form_csv('med', 140, 5, ',', [4, 'rpps_adeli', ''], [60, 'bal', 'med.59@ailleurs.test'],
                   [99, 'email_contact', 'pas une adresse']);
close $fh;
%count = map { $_ => q1("SELECT count(*) FROM $_") } qw(account bal bal_access);
($rc, $out, $err) = adm('', 'import', "$dir/bad.csv", '--apply');
my @lines = $err =~ /line (\d+), column/g;
ok($rc == 1 && "@lines" eq '4 60 99', 'three bad rows: exit 1, the three lines named') or diag $err;
like($err, qr/line 4, column 10 \(rpps_adeli\): a PER BAL needs/, 'missing RPPS named by column');
like($err, qr/line 60, column 7 \(bal\): med\.59\@ailleurs\.test is not in one of our domains/, 'outside our domains');
like($err, qr/line 99, column 5 \(email_contact\): "pas une adresse" is not an e-mail address/, 'a bad e-mail');
is($counts->(), '0 0 0', 'and nothing imported, not even the good rows');

# Rows at odds with the database or with each other.
Sandbox::write_file("$dir/dup.csv", join "\n", 'login;nom;prenom;email_contact;bal;role;rpps_adeli',
    'doc.1;NOM1;Prenom1;doc1@perso.test;doc.1.bis@a.mssante.test;;10000000099',
    'neuf.un;UN;Neuf;n1@perso.test;neuf.un@a.mssante.test;;10000000098',
    'neuf.un;AUTRE;Neuf;n1@perso.test;neuf.deux@a.mssante.test;;10000000097',
    'neuf.un;;;;inconnue@a.mssante.test;delegue;', '"non fermé;x', '');
($rc, $out, $err) = adm('', 'import', "$dir/dup.csv");
like($err, qr/line 2, column 1 \(login\): login doc\.1 exists already/, 'an existing login with new details: named');
like($err, qr/line 4, column 2 \(nom\): neuf\.un: not what line 3 says/, 'one login, two people: named');
like($err, qr/line 5, column 5 \(bal\): no such BAL/, 'a delegate of a BAL that does not exist: named');
like($err, qr/line 6: /, 'an unterminated quote: named');
is($rc, 1, 'exit 1');
Sandbox::write_file("$dir/ref.csv", "login,bal,role\ndoc.1,doc.service3\@a.mssante.test,delegue\n");
($rc, $out, $err) = adm('', 'import', "$dir/ref.csv", '--apply');
ok($rc == 0 && $out =~ /would make|made 0 accounts \(1 existing given BALs\), 0 BALs/,
   'an existing account named alone is given the BAL (comma-separated file)') or diag $out, $err;
is(q1("SELECT count(*) FROM bal_access x JOIN account a ON a.id = x.account_id WHERE a.login = 'doc.1'"
      . " AND x.bal = 'doc.service3\@a.mssante.test'"), 1, 'as a delegate');
Sandbox::write_file("$dir/again.csv", "login,bal,role\ndoc.3,doc.service3\@a.mssante.test,delegue\n");
($rc, undef, $err) = adm('', 'import', "$dir/again.csv", '--apply');
ok($rc == 1 && $err =~ /line 2, column 2 \(bal\): doc\.3 may open doc\.service3\@a\.mssante\.test already/,
   'a right the account has already: named') or diag $err;
Sandbox::write_file("$dir/hdr.csv", "login;bal;couleur\n");
($rc, undef, $err) = adm('', 'import', "$dir/hdr.csv");
ok($rc == 1 && $err =~ /line 1: column 3: unknown column "couleur"/, 'an unknown column: named') or diag $err;
done_testing;
