#!/usr/bin/perl
# milter-smime -t and mssante-smime: the certificate store, then the real
# callbacks over message files, checked by openssl cms and gpgsm.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64 decode_base64);
use Sandbox;
use Smime;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $w = Smime::world($sb, conf => ['smime_default_policy = sign+encrypt-when-possible']);
my %p = %{ $w->{p} };
my $psql = $w->{pg}{psql};

# ---------------------------------------------------------------- the store
my ($rc, $out) = Smime::admin($w, 'import', 'own', 'alice@a.mssante.test', '--cert', $p{alice}{chain},
                              '--key', $p{alice}{key});
is($rc, 0, 'import own: accepted') or diag $out;
like($out, qr/own certificate [0-9a-f]{64} stored for address alice\@a\.mssante\.test/, 'import says what it stored');
Sandbox::write_file("$dir/open.key", Sandbox::slurp($p{alice}{key}));
chmod 0644, "$dir/open.key";
($rc, $out) = Smime::admin($w, 'import', 'own', 'alice@a.mssante.test', '--cert', $p{alice}{cert}, '--key', "$dir/open.key");
ok($rc == 1 && $out =~ /readable by every account/, 'a world-readable private key is refused') or diag $out;
($rc, $out) = Smime::admin($w, 'import', 'own', 'alice@a.mssante.test', '--cert', $p{alice}{cert}, '--key', $p{bob}{key});
ok($rc == 1 && $out =~ /does not match the certificate/, 'a key of another certificate is refused') or diag $out;
($rc, $out) = Smime::admin($w, 'import', 'peer', 'bob@b.mssante.test', '--cert', $p{bob}{cert});
is($rc, 0, 'import peer: accepted') or diag $out;

# A certificate from a CA outside the trust anchors.
Sandbox::run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=Other CA',
    '-keyout', "$dir/other-ca.key", '-out', "$dir/other-ca.pem", '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
Sandbox::write_file("$dir/other.ext", "keyUsage=critical,digitalSignature,keyEncipherment\n"
    . "extendedKeyUsage=emailProtection\nsubjectAltName=email:eve\@c.mssante.test\n");
Sandbox::run('openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Eve', '-keyout', "$dir/eve.key",
    '-out', "$dir/eve.csr");
Sandbox::run('openssl', 'x509', '-req', '-in', "$dir/eve.csr", '-CA', "$dir/other-ca.pem", '-CAkey', "$dir/other-ca.key",
    '-set_serial', '7', '-days', '30', '-extfile', "$dir/other.ext", '-out', "$dir/eve.pem");
my $eve = { cert => "$dir/eve.pem", key => "$dir/eve.key", chain => "$dir/eve.pem" };
($rc, $out) = Smime::admin($w, 'import', 'peer', 'eve@c.mssante.test', '--cert', $eve->{cert});
ok($rc == 1 && $out =~ /not usable for encryption: unable to get local issuer certificate/,
   'a peer certificate outside the trust anchors is refused, with the reason') or diag $out;
($rc, $out) = Smime::admin($w, 'import', 'peer', 'not an address@', '--cert', $p{bob}{cert});
is($rc, 1, 'a malformed owner is refused');
is($psql->("SELECT count(*) FROM smime_cert"), "2\n", 'the refusals stored nothing');

($rc, $out) = Smime::admin($w, 'list');
like($out, qr/^\d+\s+own\s+address\s+alice\@a\.mssante\.test\s+admin\s+\S+\s+valid\s+CN=Alice MARTIN/m, 'list shows ours');
like($out, qr/^\d+\s+peer\s+address\s+bob\@b\.mssante\.test\s+admin/m, 'list shows theirs');
my ($bob_id) = $out =~ /^(\d+)\s+peer\s+address\s+bob/m;
($rc, $out) = Smime::admin($w, 'show', $bob_id);
ok($rc == 0 && $out =~ /^subject\s+CN=Bob DURAND,O=CH B,C=FR$/m && $out =~ /BEGIN CERTIFICATE/, 'show prints the details and the PEM');

# ---------------------------------------------------------------- outbound
my $zip = join '', map { chr(int rand 256) } 1 .. 20000;
my $zip64 = encode_base64($zip);
my $rich = <<"EOF";
From: Dr Alice MARTIN <alice\@a.mssante.test>
To: bob\@b.mssante.test
Subject: XDM/1.0/DDM compte rendu
Message-ID: <cr-1\@a.mssante.test>
X-MSS-NIL: LPS-TEST/2.1
X-MSS-CODECDA: 11490-0
X-MSS-INS: 1234567890123451234567890
Disposition-Notification-To: alice\@a.mssante.test
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUT"

This is a multi-part message.
--OUT
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Cher confrère, voici le compte rendu de l'échographie.
--ALT
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<p>Cher confrère, voici le compte rendu.</p>
--ALT--
--OUT
Content-Type: application/zip; name="IHE_XDM.ZIP"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="IHE_XDM.ZIP"

$zip64
--OUT--
epilogue text
EOF
my @from_alice = ('--from', 'alice@a.mssante.test', '--auth', 'alice.martin');
my ($stdout, $err);
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'bob@b.mssante.test');
is($rc, 0, 'outbound to a recipient with a certificate: accepted') or diag $err;
like(Smime::header($stdout, 'Content-Type'), qr{^application/pkcs7-mime; smime-type=enveloped-data}, 'it is encrypted');
for my $h (qw(X-MSS-NIL X-MSS-CODECDA X-MSS-INS Disposition-Notification-To Message-ID Subject From)) {
    is(Smime::header($stdout, $h), Smime::header($rich, $h), "outer $h unchanged");
}
my ($ok, $entity, $e) = Smime::decrypt($sb, $stdout, $p{bob});
ok($ok, 'openssl cms decrypts it with the recipient key') or diag $e;
my ($vok, $content, $ve) = Smime::verify($sb, $entity);
ok($vok, 'openssl cms verifies the signature inside') or diag $ve;
is(Smime::attachment($content, 'IHE_XDM.ZIP'), $zip, 'the decrypted IHE_XDM.ZIP is byte-identical');
like($content, qr/Content-Transfer-Encoding: quoted-printable\r\n\r\nCher confr=C3=A8re/, '8-bit text made 7-bit (quoted-printable)');
unlike($content, qr/epilogue text/, 'the epilogue is left out');
ok($entity !~ /[\x80-\xff]/, 'what is signed is 7-bit clean');

my $g = Smime::gpgsm($sb, $p{bob});
my ($gok, $gentity, $gerr) = Smime::gpgsm_decrypt($sb, $g, $stdout);
ok($gok, 'gpgsm decrypts it') or diag $gerr;
is($gentity, $entity, 'gpgsm and openssl decrypt the same entity');
($gok, $gerr) = Smime::gpgsm_verify($sb, $g, $gentity);
ok($gok, 'gpgsm verifies the signature') or diag $gerr;
like($gerr, qr/Good signature from "\/CN=Alice MARTIN/, 'gpgsm names the signer');

# Signed only: dan has no certificate.
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'dan@c.mssante.test');
is($rc, 0, 'outbound to a recipient without certificate (when possible): accepted') or diag $err;
like(Smime::header($stdout, 'Content-Type'), qr{^multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256},
     'it is signed only (multipart/signed)');
like($err, qr/signed \(sha-256\), not encrypted: a recipient has no usable certificate/, 'the log says why');
($vok, $content, $ve) = Smime::verify($sb, $stdout);
ok($vok, 'openssl cms verifies it') or diag $ve;
is(Smime::attachment($content, 'IHE_XDM.ZIP'), $zip, 'the signed IHE_XDM.ZIP is byte-identical');
($gok, $gerr) = Smime::gpgsm_verify($sb, $g, $stdout);
ok($gok, 'gpgsm verifies it') or diag $gerr;
(my $tampered = $stdout) =~ s/(Cher confr=C3=A8re, voici le compte rendu de l)'/$1`/ or die 'nothing to tamper';
($vok, undef, $ve) = Smime::verify($sb, $tampered);
ok(!$vok, 'one byte changed: openssl cms refuses it');
($gok, $gerr) = Smime::gpgsm_verify($sb, $g, $tampered);
ok(!$gok && $gerr =~ /invalid signature|BAD signature/i, 'one byte changed: gpgsm refuses it') or diag $gerr;

# Shapes of messages: each processed and verifiable after decryption.
my %shapes = (
    'no MIME-Version'   => "From: <alice\@a.mssante.test>\nSubject: plain\n\nHello\nworld\n",
    'an empty body'     => "From: <alice\@a.mssante.test>\nSubject: empty\n\n",
    '8-bit text without MIME' => "From: <alice\@a.mssante.test>\nSubject: accents\n\nR\xc3\xa9sultats normaux.\nFrom here on\n",
    'Latin-1 text without MIME' => "From: <alice\@a.mssante.test>\nSubject: latin\n\nR\xe9sultats\n",
    'nested multipart with a forwarded message' => <<"EOF",
From: <alice\@a.mssante.test>
Subject: fwd
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="A"

--A
Content-Type: text/plain

see attached
--A
Content-Type: message/rfc822

From: <x\@b.mssante.test>
Subject: inner
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

\xc3\xa9t\xc3\xa9
--B
Content-Type: application/octet-stream
Content-Transfer-Encoding: binary

\x00\x01\x02\xff
--B--
--A--
EOF
);
for my $name (sort keys %shapes) {
    ($rc, $stdout, $err) = Smime::tm($w, $shapes{$name}, @from_alice, '--rcpt', 'bob@b.mssante.test');
    my ($d_ok, $ent) = Smime::decrypt($sb, $stdout, $p{bob});
    my ($v_ok, $c, $verr) = Smime::verify($sb, $ent);
    ok($rc == 0 && $d_ok && $v_ok && $ent !~ /[\x80-\xff\x00]/, "$name: encrypted, decrypts, verifies, 7-bit") or diag "$err\n$verr";
    if ($name =~ /8-bit text/) {
        like($c, qr/Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nR=C3=A9sultats normaux\.\r\n=46rom here on/,
             '8-bit text without MIME: labelled UTF-8, quoted-printable, "From " escaped');
    }
    like($c, qr/charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nR=E9sultats/, 'Latin-1 text: labelled as such')
        if $name =~ /Latin-1/;
    like($c, qr{Content-Transfer-Encoding: base64\r\n\r\nAAEC/w==}, 'binary part inside a forwarded message: base64')
        if $name =~ /nested/;
}

# Policies.
my $required = ['-o', 'smime_recipient_policies=c.mssante.test=encrypt-required, b.mssante.test = sign'];
{
    my $cmd = sub { Smime::tm($w, $rich, @$required, @from_alice, @_) };
    ($rc, $stdout, $err) = $cmd->('--rcpt', 'dan@c.mssante.test');
    ok($rc == 1 && $err =~ /RCPT <dan\@c\.mssante\.test>: 550 5\.7\.1 .*S\/MIME encryption required but no usable certificate for this recipient \(no certificate known\)/,
       'encrypt-required to a recipient without certificate: 550 5.7.1 at RCPT, saying why') or diag $err;
    ($rc, $stdout, $err) = $cmd->('--rcpt', 'bob@b.mssante.test');
    ok($rc == 0 && Smime::header($stdout, 'Content-Type') =~ m{^multipart/signed}, 'recipient domain policy "sign": signed only') or diag $err;
    ($rc, $stdout, $err) = $cmd->('--rcpt', 'jean@a.mssante.test', '--rcpt', 'bob@b.mssante.test');
    ok($rc == 0 && Smime::header($stdout, 'Content-Type') =~ m{^multipart/signed}, 'a local recipient: signed, not encrypted') or diag $err;
}
($rc, $stdout, $err) = Smime::tm($w, $rich, '-o', 'smime_default_policy=none', @from_alice, '--rcpt', 'bob@b.mssante.test');
ok($rc == 0 && $stdout eq $rich && Smime::header($stdout, 'Content-Type') =~ /^multipart\/mixed/,
   'policy none: unchanged') or diag $err;
($rc, $stdout, $err) = Smime::tm($w, $rich, '-o', 'smime_sender_policies=a.mssante.test=bogus', @from_alice, '--rcpt', 'bob@b.mssante.test');
ok($rc != 0 && $err =~ /key "smime_sender_policies": domain a\.mssante\.test: unknown policy "bogus"/, 'a bad policy names its key');

# What cannot be encrypted to is never let through encrypt-required.
($rc, $stdout, $err) = Smime::tm($w, $rich, '-o', 'smime_default_policy=encrypt-required', @from_alice,
                                 '--rcpt', 'bob@b.mssante.test', '--rcpt', 'bad address@b.mssante.test');
ok($rc == 0 && $err =~ /RCPT <bad address\@b\.mssante\.test>: 550 5\.7\.1 .*address cannot be read/
   && Smime::header($stdout, 'Content-Type') =~ /enveloped-data/,
   'encrypt-required: an unreadable recipient address is refused, the rest encrypted') or diag $err;
# Opaque S/MIME without smime-type is not taken for an envelope: it is wrapped in one.
Sandbox::write_file("$dir/opaque.txt", "Content-Type: text/plain\r\n\r\nsecret results\r\n");
my $opaque = Sandbox::run('openssl', 'cms', '-sign', '-nodetach', '-in', "$dir/opaque.txt", '-signer', $p{alice}{cert},
                          '-inkey', $p{alice}{key}) =~ s/; smime-type=signed-data//r;
($rc, $stdout, $err) = Smime::tm($w, "From: <alice\@a.mssante.test>\nSubject: opaque\n$opaque", @from_alice,
                                 '--rcpt', 'bob@b.mssante.test');
($ok, $entity) = Smime::decrypt($sb, $stdout, $p{bob});
ok($rc == 0 && $ok && Smime::header($entity, 'Content-Type') =~ m{^application/(x-)?pkcs7-mime},
   'opaque S/MIME without smime-type: encrypted around it, not passed as already encrypted') or diag $err;

# Faults: never plaintext, always 451.
rename $p{alice}{key}, "$p{alice}{key}.away";
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'bob@b.mssante.test');
ok($rc == 75 && $err =~ /451 4\.7\.0/ && $stdout eq '', 'signing key missing: 451, nothing written') or diag $err;
like($err, qr/private key .*smime-alice\.key: cannot open/, 'the log names the key file');
rename "$p{alice}{key}.away", $p{alice}{key};
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'dan@c.mssante.test', '--from', 'zoe@a.mssante.test');
ok($rc == 75 && $err =~ /no signing certificate for zoe\@a\.mssante\.test or its domain/, 'a sender without certificate: 451, saying why') or diag $err;
$w->{pg}{stop}->();
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'bob@b.mssante.test');
ok($rc == 75 && $err =~ /451 4\.7\.0/ && $stdout eq '', 'database down: 451 at RCPT') or diag $err;
$w->{pg}{start}->();

# ---------------------------------------------------------------- inbound
my $letter = "Content-Type: text/plain; charset=us-ascii\n\nResultats: normaux.\n";
my $hdrs = "From: <dan\@c.mssante.test>\r\nTo: <alice\@a.mssante.test>\r\nSubject: resultats\r\n";
my @inbound = ('--from', 'dan@c.mssante.test', '--rcpt', 'alice@a.mssante.test');

Sandbox::write_file("$dir/letter", $letter);
(my $crlf = $letter) =~ s/\n/\r\n/g;
Sandbox::write_file("$dir/letter.crlf", $crlf);
Sandbox::run('openssl', 'cms', '-sign', '-in', "$dir/letter.crlf", '-signer', $p{dan}{cert}, '-inkey', $p{dan}{key},
             '-outform', 'DER', '-binary', '-out', "$dir/letter.p7s", '-md', 'sha256');
my $by_openssl = Smime::multipart_signed("X-MSSante-SMIME: signed=yes; verified=yes; signer=\"CN=forged\"\r\n" . $hdrs,
                                         $letter, Sandbox::slurp("$dir/letter.p7s"));
($rc, $stdout, $err) = Smime::tm($w, $by_openssl, @inbound);
is($rc, 0, 'inbound signed by openssl cms: accepted') or diag $err;
my @v = Smime::header($stdout, 'X-MSSante-SMIME');
is(scalar @v, 1, 'one X-MSSante-SMIME: the forged one is gone');
is($v[0], 'signed=yes; verified=yes; signer="CN=Dan LEROY,O=CH C,C=FR"; signer-email=dan@c.mssante.test; encrypted=no',
   'verified, with the signer');

my $gc = Smime::gpgsm($sb, $p{carol});
my $fpr = Sandbox::run('openssl', 'x509', '-in', $p{carol}{cert}, '-noout', '-fingerprint', '-sha1') =~ s/.*=|:|\s//gr;
my ($grc, $gsig, $gse) = $gc->("test\n", '--detach-sign', '--local-user', $fpr, "$dir/letter.crlf");
is($grc, 0, 'gpgsm signs a letter') or diag $gse;
($rc, $stdout, $err) = Smime::tm($w, Smime::multipart_signed($hdrs =~ s/dan\@c/carol\@b/r, $letter, $gsig),
                                 '--from', 'carol@b.mssante.test', '--rcpt', 'alice@a.mssante.test');
like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=yes; verified=yes; signer="CN=Carol PETIT,O=CH B,C=FR"; signer-email=carol\@b\.mssante\.test; encrypted=no$/,
     'inbound signed by gpgsm: verified, with the signer') or diag $err;

Sandbox::run('openssl', 'cms', '-sign', '-in', "$dir/letter.crlf", '-signer', $eve->{cert}, '-inkey', $eve->{key},
             '-outform', 'DER', '-binary', '-out', "$dir/eve.p7s");
($rc, $stdout, $err) = Smime::tm($w, Smime::multipart_signed($hdrs, $letter, Sandbox::slurp("$dir/eve.p7s")), @inbound);
like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=yes; verified=no; signer="CN=Eve"; signer-email=eve\@c\.mssante\.test; encrypted=no; reason="not verified: certificate verify error \(unable to get local issuer certificate\)"$/,
     'signed by an unknown CA: not verified, with the reason') or diag $err;
($rc, $stdout, $err) = Smime::tm($w, Smime::multipart_signed($hdrs, $letter =~ s/normaux/anormaux/r, Sandbox::slurp("$dir/letter.p7s")), @inbound);
like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=yes; verified=no; .*reason="not verified: .*"$/,
     'content changed after signing: not verified') or diag $err;
($rc, $stdout, $err) = Smime::tm($w, "From: <dan\@c.mssante.test>\nX-MSSante-SMIME: signed=yes; verified=yes\nSubject: x\n\nhi\n", @inbound);
is(join('|', Smime::header($stdout, 'X-MSSante-SMIME')), 'signed=no; encrypted=no', 'plain mail: said so, forged verdict replaced');
# Transfer encodings that lie are the sender's fault: a verdict, not a 451.
(my $bad_b64 = $by_openssl) =~ s/(Content-Transfer-Encoding: base64\r\n\r\n)/$1!!/ or die 'no signature part';
($rc, $stdout, $err) = Smime::tm($w, $bad_b64, @inbound);
is($rc, 0, 'a signature that is not base64: accepted (not a temporary failure)') or diag $err;
is(Smime::header($stdout, 'X-MSSante-SMIME'), 'signed=yes; verified=no; encrypted=no; reason="the signature is not valid base64"',
   '... and said so');
($rc, $stdout, $err) = Smime::tm($w, "From: <dan\@c.mssante.test>\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
                                 . "Content-Transfer-Encoding: base64\n\nMIIB!!not base64\n", @inbound);
is(join('|', $rc, Smime::header($stdout, 'X-MSSante-SMIME')),
   '0|signed=no; encrypted=yes; decrypted=no; reason="the encrypted data is not valid base64"',
   'encrypted data that is not base64: delivered as it came, with the reason') or diag $err;

# Revocation from a CRL file of the issuing CA: dan's certificate revoked.
{
    my $crl = $sb->crl('personnes', $p{dan}{cert});
    my @crl = ('-o', "smime_crl_files=$crl");
    ($rc, $stdout, $err) = Smime::tm($w, $by_openssl, @crl, @inbound);
    like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=yes; verified=no; signer="CN=Dan LEROY.*reason="not verified: .*certificate revoked/,
         'a signer revoked by a configured CRL: not verified, "certificate revoked"') or diag $err;
    ($rc, $stdout, $err) = Smime::tm($w, Smime::multipart_signed($hdrs =~ s/dan\@c/carol\@b/r, $letter, $gsig), @crl,
                                     '--from', 'carol@b.mssante.test', '--rcpt', 'alice@a.mssante.test');
    like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=yes; verified=yes; signer="CN=Carol PETIT/,
         'a signer not on the CRL: still verified') or diag $err;
    ($rc, $stdout, $err) = Smime::tm($w, $by_openssl, '-o', "smime_crl_files=$dir/letter", @inbound);
    ok($rc != 0 && $err =~ /key "smime_crl_files": \Q$dir\E\/letter: no PEM CRL could be read/, 'an unreadable CRL file names its key') or diag $err;
}

# Encrypted to us: decrypted, verdict added; encrypted to a key we do not have: unchanged.
Sandbox::run('openssl', 'cms', '-encrypt', '-in', "$dir/letter", '-aes-256-cbc', '-out', "$dir/enc.eml", $p{alice}{cert});
my $enc = $hdrs . Sandbox::slurp("$dir/enc.eml");
($rc, $stdout, $err) = Smime::tm($w, $enc, @inbound);
is(Smime::header($stdout, 'X-MSSante-SMIME'), 'signed=no; encrypted=yes; decrypted=yes; algorithm=aes-256-cbc', 'encrypted to us: decrypted') or diag $err;
like($stdout, qr/^Content-Type: text\/plain; charset=us-ascii\r?\n(?:.*\n)*?\r?\nResultats: normaux\.\r?\n\z/m, 'the decrypted text replaces the envelope');
Sandbox::run('openssl', 'cms', '-encrypt', '-in', "$dir/letter", '-aes-128-cbc', '-out', "$dir/enc2.eml", $p{carol}{cert});
my $enc2 = $hdrs . Sandbox::slurp("$dir/enc2.eml");
($rc, $stdout, $err) = Smime::tm($w, $enc2, @inbound);
is($rc, 0, 'encrypted to a key we do not have: still accepted');
like(Smime::header($stdout, 'X-MSSante-SMIME'), qr/^signed=no; encrypted=yes; decrypted=no; algorithm=aes-128-cbc; reason="not encrypted for any of our keys of its recipients"$/,
     'delivered unchanged, with the reason');
is(Smime::body($stdout) =~ s/\r//gr, Smime::body($enc2) =~ s/\r//gr, 'its body is unchanged');

# Harvest: a verified signer's certificate is kept, then used to encrypt.
($rc, $stdout, $err) = Smime::tm($w, $by_openssl, '-o', 'smime_harvest=yes', @inbound);
is($psql->("SELECT usage, scope, owner, source FROM smime_cert WHERE owner = 'dan\@c.mssante.test'"),
   "peer|address|dan\@c.mssante.test|harvested\n", 'smime_harvest = yes: the signer\'s certificate is kept') or diag $err;
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'dan@c.mssante.test');
($ok) = Smime::decrypt($sb, $stdout, $p{dan});
ok($ok, 'mail to that signer is now encrypted to the harvested certificate') or diag $err;

# Revocation.
($rc, $out) = Smime::admin($w, 'revoke', $bob_id);
ok($rc == 0 && $out =~ /revoked/, 'revoke') or diag $out;
($rc, $stdout, $err) = Smime::tm($w, $rich, @from_alice, '--rcpt', 'bob@b.mssante.test');
like(Smime::header($stdout, 'Content-Type'), qr{^multipart/signed}, 'a revoked certificate is no longer encrypted to');
is($psql->("SELECT count(*) FROM audit_event WHERE actor = 'mssante-smime'"), "3\n", 'imports and revocation are audited');

done_testing;
