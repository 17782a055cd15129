#!/usr/bin/perl
# annuaire-sync --fhir: Bundles over three pages served by a local HTTPS
# server, the API key header, the MSSanté e-mail type (plain e-mails are
# ignored), liste rouge kept out of search, --since deltas that never
# delete, and bad answers refused with the database unchanged.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $web = "$dir/www";
mkdir $web;
Sandbox::write_file($conf, Sandbox::slurp($conf) . "annuaire_fhir_ca = " . $sb->pki->{bundle}
    . "\nannuaire_fhir_api_key = test-key-4242\n");

my $EMAIL_TYPE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type';
my $META = 'https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata';
sub mss {
    my ($addr, $type, $red) = @_;
    return { system => 'email', value => $addr, extension => [
        { url => $EMAIL_TYPE, valueCoding => { code => 'MSSANTE' } },
        { url => $META, extension => [
            { url => 'type', valueCodeableConcept => { coding => [{ code => $type }] } },
            { url => 'listeRouge', valueBoolean => $red ? JSON::PP::true : JSON::PP::false }] }] };
}
sub practitioner {
    my ($i, $family, $given, %o) = @_;
    my @tel = (mss("$o{local}\@medecin.mssante.test", 'PER', $o{red}),
               { system => 'email', value => "$o{local}\@gmail.com" });    # not MSSanté
    return { resource => { resourceType => 'Practitioner', id => "p$i",
        identifier => [{ system => 'urn:oid:1.2.250.1.71.4.2.1', value => sprintf('8100000%05d', $i) }],
        name => [{ family => $family, given => [$given] }], telecom => \@tel } };
}
my $port;
sub page {
    my ($n, $next, @entries) = @_;
    my $b = { resourceType => 'Bundle', type => 'searchset', entry => \@entries,
              link => [$next ? { relation => 'next', url => "https://localhost:$port/page$next.json" } : ()] };
    Sandbox::write_file("$web/page$n.json", JSON::PP->new->utf8->canonical->encode($b));
}

my $https = $sb->https_server($web);
$port = $https->{port};
ok($port, 'HTTPS server started');

page(1, 2, practitioner(1, 'DUPONT', 'Jean-Marie', local => 'jean-marie.dupont'),
           practitioner(2, 'MARTIN', 'Hélène', local => 'helene.martin'));
page(2, 3, practitioner(3, 'LEFÈVRE', 'Éloïse', local => 'eloise.lefevre', red => 1),
           { resource => { resourceType => 'Organization', id => 'o1', name => 'CH DE SAINT-ÉTIENNE',
             identifier => [{ system => 'https://finess.esante.gouv.fr', value => '420000001' }],
             telecom => [mss('secretariat.cardio@ch-st-etienne.mssante.test', 'ORG', 0)] } });
page(3, 0, { resource => { resourceType => 'PractitionerRole', id => 'r1',
             telecom => [mss('accueil.cab@medecin.mssante.test', 'CAB', 0)] } },
           { resource => { resourceType => 'Patient', id => 'x',
             telecom => [mss('not.a.professional@medecin.mssante.test', 'PER', 0)] } });

sub sync {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('annuaire-sync'), '-c', $conf, @_;
    my $out = qx{$cmd 2>$dir/err};
    return ($? >> 8, $out . Sandbox::slurp("$dir/err"));
}
sub q1 { my $r = $pg->{psql}->($_[0]); chomp $r; utf8::decode($r); $r }

my $t0 = time;
my ($rc, $out) = sync('-o', 'annuaire_fhir_rate=2', '--fhir', "https://localhost:$port/page1.json");
my $took = time - $t0;
is($rc, 0, 'three pages load') or diag $out;
like($out, qr/5 lines read, 0 rejected, 0 duplicates collapsed; inserted 5, updated 0, deleted 0/,
     '5 MSSanté mailboxes (3 practitioners, 1 organisation, 1 practitioner role), nothing else');
is(q1("SELECT string_agg(address, ' ' ORDER BY address) FROM annuaire_bal"),
   'accueil.cab@medecin.mssante.test eloise.lefevre@medecin.mssante.test helene.martin@medecin.mssante.test '
   . 'jean-marie.dupont@medecin.mssante.test secretariat.cardio@ch-st-etienne.mssante.test',
   'the mailboxes are exactly those typed MSSANTE (no gmail.com, no Patient)');
is(q1("SELECT last_name || '|' || first_name || '|' || national_id || '|' || id_type || '|' || id_pp "
      . "FROM annuaire_bal WHERE address = 'helene.martin\@medecin.mssante.test'"),
   'MARTIN|Hélène|810000000002|8|10000000002', 'practitioner: name and RPPS from the resource');
is(q1("SELECT bal_type || '|' || org_name || '|' || structure_id FROM annuaire_bal WHERE bal_type = 'ORG'"),
   'ORG|CH DE SAINT-ÉTIENNE|420000001', 'organisation: type, name and FINESS');
is(q1("SELECT bal_type FROM annuaire_bal WHERE address LIKE 'accueil.cab%'"), 'CAB', 'BAL type from the metadata extension');
is(q1("SELECT liste_rouge FROM annuaire_bal WHERE address LIKE 'eloise%'"), 't', 'listeRouge stored');
is(q1("SELECT count(*) FROM annuaire_search(nom => 'lefevre')"), '0', 'a liste rouge mailbox is kept out of search');
my $log = Sandbox::slurp($https->{log});
is(() = $log =~ /"GET \/page\d\.json HTTP\/1\.1" 200 \S+ api-key=test-key-4242/g, 3, 'three pages fetched, each with the API key header');
ok($took >= 0.9, sprintf('rate limit of 2 requests/s respected (3 pages in %.2f s)', $took));
unlike($out, qr/test-key-4242/, 'the API key is not printed');
like(qx{@{[ $sb->bin('annuaire-sync') ]} -c $conf -n 2>&1}, qr/^annuaire_fhir_api_key = \*\*\*\*\*$/m, '-n masks the API key');

# a delta: one changed practitioner; nothing deleted though the others are absent
page(4, 0, practitioner(2, 'MARTIN-DURAND', 'Hélène', local => 'helene.martin'));
($rc, $out) = sync('--since', '2026-11-01', '--fhir', "https://localhost:$port/page4.json");
like($out, qr/inserted 0, updated 1, deleted 0/, '--since: the change applied, nothing deleted') or diag $out;
is(q1("SELECT count(*) FROM annuaire_bal"), '5', 'all five mailboxes still there');
like(Sandbox::slurp($https->{log}), qr/GET \/page4\.json\?_lastUpdated=ge2026-11-01 /, 'the request asked for _lastUpdated=ge2026-11-01');
is(q1("SELECT mode || '/' || status FROM sync_run ORDER BY id DESC LIMIT 1"), 'delta/ok', 'recorded as a delta');

# bad answers: refused, nothing changes
my $before = q1("SELECT md5(string_agg(address || row_hash, ',' ORDER BY address)) FROM annuaire_bal");
Sandbox::write_file("$web/patient.json", '{"resourceType":"Patient","id":"x"}');
($rc, $out) = sync('--fhir', "$web/patient.json");
ok($rc == 1 && $out =~ /not a FHIR Bundle \(resourceType "Patient"\).*database unchanged/, 'JSON that is not a Bundle: refused');
Sandbox::write_file("$web/oo.json", '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"security","diagnostics":"invalid API key"}]}');
($rc, $out) = sync('--fhir', "https://localhost:$port/oo.json");
ok($rc == 1 && $out =~ /OperationOutcome: invalid API key/, 'an OperationOutcome: refused with its diagnostics');
Sandbox::write_file("$web/trunc.json", '{"resourceType":"Bundle","entry":[{"resource":');
($rc, $out) = sync('--fhir', "$web/trunc.json");
ok($rc == 1 && $out =~ /trunc\.json:1: not valid JSON/, 'truncated JSON: refused with its line');
($rc, $out) = sync('--fhir', "https://localhost:$port/missing.json");
ok($rc == 1 && $out =~ /404/, 'HTTP 404: refused');
is(q1("SELECT md5(string_agg(address || row_hash, ',' ORDER BY address)) FROM annuaire_bal"), $before, 'database unchanged by all of these');

# A quoted local part with a backslash (FHIR can carry one): read back from
# the database, compared and deleted as itself, not as its COPY spelling.
page(5, 0, practitioner(1, 'DUPONT', 'Jean-Marie', local => 'jean-marie.dupont'),
           practitioner(9, 'HOUSE', 'Gregory', local => q{"dr\\house"}));
($rc, $out) = sync('--force', '--fhir', "$web/page5.json");
like($out, qr/inserted 1, updated 0, deleted 4/, 'a full sync of two mailboxes: one new, four gone') or diag $out;
($rc, $out) = sync('--fhir', "$web/page5.json");
like($out, qr/inserted 0, updated 0, deleted 0/, 'the same again: the backslashed address is known') or diag $out;
is(q1(q{SELECT count(*) FROM annuaire_bal WHERE address = '"dr\\house"@medecin.mssante.test'}), '1', 'and still there');
done_testing;
