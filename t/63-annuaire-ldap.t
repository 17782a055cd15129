#!/usr/bin/perl
# annuaire-sync --ldap against the sandbox slapd (StartTLS with a test PKI
# certificate, default size limit 500) and PostgreSQL: a tree of 2,000
# people loads completely by paged search for an account allowed to page
# past the limit; an account that is not is refused with the reason and the
# database stays as it was; deletions and changes in the directory follow;
# bad connections, binds and passwords in clear are refused.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Encode qw(decode_utf8 encode_utf8);
use Test::More;
use Sandbox;

binmode Test::More->builder->$_, ':encoding(UTF-8)' for qw(output failure_output);
my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $base = 'dc=mssante,dc=test';
my $people = "ou=people,$base";
my $N = 2000;

# The tree: 2,000 people (every tenth an organisation mailbox, one with two
# addresses, one with an address that is not one) and two service accounts.
my @first = qw(Zoé Jérôme Hélène François Amélie Noël Cécile Loïc Anaïs Gaëlle);
my @last = ('Lefèvre', 'Dupré', "N'Guyen", 'Le Bihan', 'Müller', 'Garçon', 'Bénard', 'Roux');
my @city = (['SAINT-ÉTIENNE', '42000', '42'], ['BORDEAUX', '33000', '33'], ['ORLÉANS', '45000', '45']);
chomp(my $pw_hash = Sandbox::run('slappasswd', '-s', 'Lecture-Annuaire'));
my $ldif = "dn: $people\nobjectClass: organizationalUnit\nou: people\n\n";
for my $acct (qw(annuaire-sync limited)) {
    $ldif .= "dn: cn=$acct,$base\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
           . "cn: $acct\nsn: $acct\nuserPassword: $pw_hash\n\n";
}
my (%expect, $rows);
for my $i (1 .. $N) {
    my $org = $i % 10 == 0;
    my ($c, $cp, $dep) = @{ $city[$i % @city] };
    my $uid = sprintf 'p%05d', $i;
    my $mail = "$uid\@hopital-$dep.mssante.test";
    my $e = "dn: uid=$uid,$people\nobjectClass: inetOrgPerson\nobjectClass: extensibleObject\nuid: $uid\nmail: $mail\n"
          . "o: CH de $c\nl: $c\npostalCode: $cp\nst: $dep\n";
    if ($org) {
        $e .= "cn: Secrétariat $i\nsn: Secrétariat $i\nemployeeType: ORG\n";
    } else {
        my ($f, $l) = ($first[$i % @first], $last[$i % @last]);
        $e .= "cn: $f $l\ngivenName: $f\nsn: $l\ntitle: Médecin\npersonalTitle: DR\n"
            . sprintf("employeeNumber: 10%09d\n", $i);
    }
    $e =~ s/^(mail: .*)$/$1\nmail: $uid.bis\@hopital-$dep.mssante.test/m if $i == 7;
    $e =~ s/^mail: .*$/mail: not-an-address/m if $i == 13;
    $ldif .= "$e\n";
    $expect{$mail} = 1 unless $i == 13;
}
$expect{'p00007.bis@hopital-33.mssante.test'} = 1;
my $server = $sb->issue(kind => 'server', cn => 'ldap.mssante.test', ip => '127.0.0.1');
my $ldap = $sb->slapd(base => $base, ldif => encode_utf8($ldif), tls => $server,
                      limits => [qq{dn.exact="cn=annuaire-sync,$base" size.prtotal=unlimited}]);
my $uri = $ldap->{uri};

# The tree is above the size limit for a plain search by the sync account.
my $plain = qx{LDAPTLS_CACERT=$sb->{pki}{bundle} ldapsearch -ZZ -x -H $uri -D cn=annuaire-sync,$base -w Lecture-Annuaire -b $people '(mail=*)' dn 2>&1};
like($plain, qr/Size limit exceeded/, "a search without paging stops at slapd's size limit");

Sandbox::write_file("$dir/ldap.conf", Sandbox::slurp($conf) . join '', map { "$_\n" }
    "annuaire_ldap_bind_dn = cn=annuaire-sync,$base", 'annuaire_ldap_bind_password = Lecture-Annuaire',
    "annuaire_ldap_ca = $sb->{pki}{bundle}", 'annuaire_ldap_page_size = 300');

# sync - annuaire-sync with a config and options; (exit status, stdout, stderr)
sub sync {
    my ($cf, @args) = @_;
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-sync'), '-c', $cf, @args;
    my $out = qx{$cmd 2>$dir/err};
    return ($? >> 8, $out, Sandbox::slurp("$dir/err"));
}
sub q1 { my $r = decode_utf8($pg->{psql}->($_[0])); chomp $r; $r }
sub snapshot { q1("SELECT count(*) || ':' || coalesce(md5(string_agg(address || row_hash, ',' ORDER BY address)), '') FROM annuaire_bal") }

# --- an account that may not page past the limit: refused, nothing written
my ($rc, $out, $err) = sync("$dir/ldap.conf", '-o', "annuaire_ldap_bind_dn=cn=limited,$base",
                            '--ldap', $uri, '--base', $people);
is($rc, 1, 'an account held to the size limit: exit 1');
like($err, qr/the server stopped after \d+ entries \(Size limit exceeded\).*size\.prtotal=unlimited.*database unchanged/,
     'the message says the result was cut short and what to configure');
is(q1('SELECT count(*) FROM annuaire_bal'), 0, 'nothing was loaded from a partial result');

# --- the sync account: the whole tree, by pages of 300
($rc, $out, $err) = sync("$dir/ldap.conf", '--ldap', $uri, '--base', $people);
is($rc, 0, 'annuaire-sync --ldap loads the tree') or diag $err;
like($out, qr/\Q$uri\E: 2001 lines read, 1 rejected, 0 duplicates collapsed; inserted 2000, updated 0, deleted 0/,
     'summary: 2,000 entries and one extra address read, the bad address rejected');
like($err, qr/rejected line 13: invalid address "not-an-address"/, 'the rejected entry is named');
my $got = q1("SELECT string_agg(address, ',' ORDER BY address) FROM annuaire_bal WHERE source = 'ldap'");
is($got, join(',', sort keys %expect), 'the database holds exactly the directory\'s mailboxes');
is(q1("SELECT concat_ws('|', bal_type, civility, last_name, first_name, national_id, profession_label, org_name, postcode, city, department)"
      .  " FROM annuaire_bal WHERE address = 'p00001\@hopital-33.mssante.test'"),
   'PER|DR|Dupré|Jérôme|10000000001|Médecin|CH de BORDEAUX|33000|BORDEAUX|33', 'a person is mapped as documented');
is(q1("SELECT concat_ws('|', bal_type, last_name, coalesce(first_name, '-')) FROM annuaire_bal WHERE address = 'p00010\@hopital-33.mssante.test'"),
   'ORG|Secrétariat 10|-', 'an organisation mailbox (employeeType ORG)');
my $search = decode_utf8(scalar qx{${\ $sb->bin('annuaire-search')} -c $conf --prenom helene --ville saint-etienne --limit 3 2>&1});
like($search, qr/Hélène.*SAINT-ÉTIENNE/, 'annuaire-search finds them, accents folded');

# --- the directory changes: 10 people leave, one moves
my $rootcmd = "-x -H $ldap->{uri} -D $ldap->{binddn} -w $ldap->{bindpw}";
system(join ' ', 'ldapdelete', $rootcmd, map { sprintf 'uid=p%05d,%s', $_, $people } 101 .. 110) == 0
    or die 'ldapdelete failed';
open my $mod, '|-', "ldapmodify $rootcmd >/dev/null" or die;
print $mod encode_utf8("dn: uid=p00001,$people\nchangetype: modify\nreplace: l\nl: LYON\n");
close $mod or die 'ldapmodify failed';
($rc, $out, $err) = sync("$dir/ldap.conf", '--ldap', $uri, '--base', $people);
like($out, qr/inserted 0, updated 1, deleted 10/, 'the next run deletes the 10 and updates the one') or diag $err;
($rc, $out) = sync("$dir/ldap.conf", '--ldap', $uri, '--base', $people);
like($out, qr/inserted 0, updated 0, deleted 0/, 'an unchanged directory changes nothing');

# --- failures leave the database as it was
my $before = snapshot();
my $closed = Sandbox::free_port('127.0.0.1');
($rc, $out, $err) = sync("$dir/ldap.conf", '--ldap', "ldap://127.0.0.1:$closed/", '--base', $people);
is($rc, 1, 'unreachable server: exit 1');
like($err, qr{ldap://127\.0\.0\.1:$closed/: StartTLS: Can't contact LDAP server.*database unchanged}, 'the message names the server');
($rc, $out, $err) = sync("$dir/ldap.conf", '-o', 'annuaire_ldap_bind_password=wrong', '--ldap', $uri, '--base', $people);
like($err, qr/bind as cn=annuaire-sync,\Q$base\E: Invalid credentials/, 'wrong password: refused with the reason');
($rc, $out, $err) = sync("$dir/ldap.conf", '-o', 'annuaire_ldap_starttls=no', '--ldap', $uri, '--base', $people);
like($err, qr/refusing to send the bind password without TLS/, 'no bind password in clear');
($rc, $out, $err) = sync("$dir/ldap.conf", '-o', "annuaire_ldap_ca=$server->{cert}", '--ldap', $uri, '--base', $people);
like($err, qr/StartTLS: Connect error/, 'a server certificate that does not verify: refused');
($rc, $out, $err) = sync("$dir/ldap.conf", '--ldap', $uri, '--base', "ou=nobody,$base");
like($err, qr/No such object/, 'a base that does not exist: refused');
is(snapshot(), $before, 'after all of these the database is unchanged');
my $shown = qx{${\ $sb->bin('annuaire-sync')} -c $dir/ldap.conf -n 2>&1};
like($shown, qr/^annuaire_ldap_bind_password = \*\*\*\*\*$/m, 'the bind password is never printed');

done_testing();
