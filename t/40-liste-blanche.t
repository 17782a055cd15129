#!/usr/bin/perl
# liste-blanche check/show/match on lists signed with xmlsec1 by the test
# IGC-Santé, each refusal with its reason, and on the real national list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $pki = $sb->pki;
my $dir = $sb->dir;
my $lbin = $sb->bin('liste-blanche');

# lb - run liste-blanche with the test anchors; (exit status, output)
sub lb {
    my @a = @_;
    my $anchors = $pki->{bundle};
    if ($a[0] =~ /^--trust-anchors=(.*)/) { $anchors = $1; shift @a }
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $lbin, '-c', '/dev/null',
        '--trust-anchors', $anchors, @a;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', ou => '347976684200724',
    o => 'GIE TEST', st => 'Paris (75)', email => 'alb@mssante.test');
my $dn_a = 'CN=mx.a.mssante.test,OU=318310021300065,O=OPERATEUR A,ST=Gironde (33),C=FR';
my $dn_a2 = 'CN=mx2.a.mssante.test, OU=318310021300065, O="OPERATEUR  A", ST=Gironde (33), C=FR';
my $dn_p = 'CN=smtps1.ens.cnam.test,OU=318003502400041,O=CNAM,ST=Paris (75),C=FR';
my @entries = (['a.mssante.test', $dn_a], ['a.mssante.test', $dn_a2],
               ['patient.mssante.fr', $dn_p], ['B.MSSante.test', $dn_a]);
my $good = ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $signer, "$dir/good.xml");

my ($rc, $out) = lb('check', $good);
is($rc, 0, 'check: a list signed by the test IGC-Santé is valid') or diag $out;
like($out, qr/^entries:\s+4$/m, 'check: 4 entries');
like($out, qr/^distinct domains:\s+3$/m, 'check: 3 distinct domains (case of B.MSSante.test folded)');
like($out, qr/^distinct operators:\s+3$/m, 'check: 3 distinct operator DNs');
like($out, qr/^signer:\s+CN=alb\.mssante\.test,/m, 'check: names the signer');

($rc, $out) = lb('show', $good, 'a.mssante.test');
ok($rc == 0 && $out eq "$dn_a\n$dn_a2\n", 'show: both DNs of a domain, as written');
($rc, $out) = lb('show', $good, 'gmail.com');
ok($rc == 1 && $out =~ /gmail\.com: not in the liste blanche/, 'show: unlisted domain, exit 1');

($rc, $out) = lb('match', $good, 'a.mssante.test', 'MX2.A.MSSANTE.TEST');
is($rc, 0, 'match: CN as the milter sees it, case-insensitive');
($rc, $out) = lb('match', $good, 'a.mssante.test',
    'C = FR, ST = Gironde (33), O = OPERATEUR A, OU = 318310021300065, CN = mx2.a.mssante.test');
is($rc, 0, 'match: full DN as OpenSSL prints it matches the hand-written entry');
($rc, $out) = lb('match', $good, 'a.mssante.test',
    'CN=mx2.a.mssante.test,OU=318310021300066,O=OPERATEUR A,ST=Gironde (33),C=FR');
ok($rc == 1 && $out =~ /^no: /, 'match: a DN with another OU does not match');
($rc, $out) = lb('match', $good, 'patient.mssante.fr', 'mx.a.mssante.test');
ok($rc == 1 && $out =~ /smtps1\.ens\.cnam\.test/, 'match: wrong operator for patient.mssante.fr, listed ones shown');
($rc, $out) = lb('match', $good, 'a.mssante.test', 'CN=x,,O=y');
is($rc, 2, 'match: malformed DN is an error (exit 2)');

# --- refusals, each with its reason
sub refused {
    my ($file, $reason, $what, @opt) = @_;
    my ($r, $o) = lb(@opt, 'check', $file);
    ok($r == 1 && $o =~ /INVALID: .*$reason/, "refused: $what") or diag $o;
}
my $text = Sandbox::slurp($good);
(my $t = $text) =~ s{<Nom>patient\.mssante\.fr</Nom>}{<Nom>patient.mssante.fx</Nom>};
refused(Sandbox::write_file("$dir/t1.xml", $t), 'bad signature', 'one <Nom> changed after signing');
($t = $text) =~ s{OU=318003502400041}{OU=318003502400042};
refused(Sandbox::write_file("$dir/t2.xml", $t), 'bad signature', 'one operator DN changed after signing');
($t = $text) =~ s{</ListeDomaines>}{<Domaine><Nom>evil.test</Nom><DNCertificatOperateur>CN=mx.evil.test,C=FR</DNCertificatOperateur></Domaine></ListeDomaines>};
refused(Sandbox::write_file("$dir/t3.xml", $t), 'bad signature', 'an entry added after signing');

my $nosig = ListeBlanche::document(entries => \@entries, template => '');
refused(Sandbox::write_file("$dir/nosig.xml", $nosig), 'no signature', 'unsigned list');

refused(ListeBlanche::sign(ListeBlanche::document(entries => \@entries, ns => 'urn:other'), $signer,
        "$dir/ns.xml"), 'root element is not ListeBlancheMSSante in namespace', 'wrong namespace');
refused(ListeBlanche::sign(ListeBlanche::document(entries => \@entries, root => 'ListeNoire'), $signer,
        "$dir/root.xml"), 'root element is not ListeBlancheMSSante', 'wrong root element');
refused(ListeBlanche::sign(ListeBlanche::document(entries => []), $signer, "$dir/empty.xml"),
        'no usable domain', 'zero domains');

($t = $text) =~ s{Domaine de messagerie}{Domaine de messagerie \xff\xfe};
refused(Sandbox::write_file("$dir/latin.xml", $t), 'not a well-formed XML file', 'not UTF-8');
refused(Sandbox::write_file("$dir/trunc.xml", substr($text, 0, int(length($text) / 2))),
        'trunc\.xml:\d+: not a well-formed XML file', 'truncated file, with its line');
($t = $text) =~ s{^<\?xml[^>]*>}{<?xml version="1.0"?><!DOCTYPE ListeBlancheMSSante [<!ENTITY x "y">]>};
refused(Sandbox::write_file("$dir/dtd.xml", $t), 'DTD is not allowed', 'a DTD (entity tricks)');
refused(Sandbox::write_file("$dir/zero.xml", ''), 'empty file', 'empty file');

# Signed by a CA that is not IGC-Santé.
my $other = "$dir/other";
mkdir $other;
Sandbox::run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30',
    '-keyout', "$other/ca.key", '-out', "$other/ca.pem", '-subj', '/C=FR/O=NOT IGC/CN=Other CA');
my $rogue = { key => "$other/ca.key", cert => "$other/ca.pem" };
refused(ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $rogue, "$dir/rogue.xml"),
        'signer certificate not trusted', 'signed by a certificate of another CA');

# The signature must be made with a certificate's key, never a bare KeyValue.
(my $kv = ListeBlanche::document(entries => \@entries)) =~ s{<KeyInfo>.*</KeyInfo>}{<KeyInfo><KeyValue/></KeyInfo>};
refused(ListeBlanche::sign($kv, $signer, "$dir/keyvalue.xml"), 'signature could not be processed|does not come from a certificate',
        'a key given as KeyValue, without certificate');

# Partial chains: anchoring on the issuing CA alone is enough; another CA is not.
($rc, $out) = lb("--trust-anchors=$pki->{organisations}{cert}", 'check', $good);
is($rc, 0, 'anchor on the issuing CA only (partial chain): valid') or diag $out;
refused($good, 'signer certificate not trusted', 'anchored on the other IGC-Santé CA only',
        "--trust-anchors=$pki->{personnes}{cert}");
refused($good, 'certificate has expired', 'verified after the signer expired', '--at', '2040-01-01');
refused($good, "cannot read the trust anchors \Q$dir/none.pem\E: No such file or directory", 'trust anchor file missing',
        "--trust-anchors=$dir/none.pem");
refused($good, 'cannot load trust anchors \(PEM certificates expected\)', 'trust anchor file not PEM',
        "--trust-anchors=$good");
my $nosign = $sb->issue(name => 'nosign', cn => 'nosign.mssante.test', o => 'GIE TEST', ku => 'keyEncipherment');
refused(ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $nosign, "$dir/ku.xml"),
        'key usage does not allow signatures', 'signer certificate without digitalSignature');

# --- the real national list of 2025-02-28, its own signer as anchor
my $real = ListeBlanche::real($sb);
SKIP: {
    ok(-s $real > 3_000_000, "the real list is unpacked at $real") or last SKIP;
    ListeBlanche::real_signer($sb, "$dir/real-signer.pem");
    ($rc, $out) = lb("--trust-anchors=$dir/real-signer.pem", '--at', '2025-02-28', 'check', $real);
    is($rc, 0, 'real list: valid as of its date') or diag $out;
    like($out, qr/^entries:\s+6494$/m, 'real list: 6,494 entries');
    like($out, qr/^distinct domains:\s+4944$/m, 'real list: 4,944 distinct domains');
    like($out, qr/^entries skipped:\s+0$/m, 'real list: every entry read (quotes inside values included)');
    refused($real, 'certificate has expired', 'real list today: its signer expired on 2026-08-23',
            "--trust-anchors=$dir/real-signer.pem");
    ($rc, $out) = lb("--trust-anchors=$dir/real-signer.pem", '--at', '2025-02-28', 'match', $real,
                     'patient.mssante.fr', 'smtps1.ens.atos-infogerance.fr');
    is($rc, 0, 'real list: the CNAM server may send for patient.mssante.fr');
}
done_testing;
