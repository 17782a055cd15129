#!/usr/bin/perl
# milter-smime with the real servers: operator A (Postfix on 127.0.0.2,
# submission for its users) signs and encrypts; operator B (Postfix on
# 127.0.0.3, Dovecot by LMTP) decrypts and verifies. One PostgreSQL holds
# the certificate store. What arrives is checked by openssl cms and gpgsm.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64);
use Sandbox;
use Smime;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $w = Smime::world($sb);
my %p = %{ $w->{p} };
my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix');
for my $u (qw(alice bob)) {
    chown $pfuid, $pfgid, $p{$u}{key};               # readable by the milters' user only
    chmod 0600, $p{$u}{key};
}
for (['own', 'alice@a.mssante.test', $p{alice}], ['own', 'bob@b.mssante.test', $p{bob}],
     ['peer', 'bob@b.mssante.test', $p{bob}], ['peer', 'carol@b.mssante.test', $p{carol}]) {
    my ($kind, $who, $c) = @$_;
    my ($rc, $out) = Smime::admin($w, 'import', $kind, $who, '--cert', $c->{chain},
                                  $kind eq 'own' ? ('--key', $c->{key}) : ());
    $rc == 0 or BAIL_OUT("import $kind $who: $out");
}
my $common = Sandbox::slurp($w->{conf});
my %milter;
for my $op (qw(a b)) {
    my $conf = Sandbox::write_file("$dir/smime-$op.conf", $common
        . "our_domains = $op.mssante.test\nsmime_default_policy = sign+encrypt-when-possible\n"
        . "smime_recipient_policies = x.mssante.test=encrypt-required\n"
        . "smime_spool_threshold = 1048576\n");
    $milter{$op} = $sb->milter(bin => $sb->bin('milter-smime'), name => "smime-$op", args => ['-c', $conf, '-u', 'postfix']);
}

my $dc = $sb->dovecot(name => 'dc-b', users => { map { ("$_\@b.mssante.test" => 'pw') } qw(bob carol dave) });
my %size = (message_size_limit => 60_000_000);
my $pfb = $sb->postfix(name => 'b', addr => '127.0.0.3', hostname => 'mx.b.mssante.test',
    domains => ['b.mssante.test'], recipients => [map { "$_\@b.mssante.test" } qw(bob carol dave)],
    lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
    main => { milter_default_action => 'tempfail', smtpd_milters => $milter{b}{socket}, %size });
my $pfa = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test',
    transport => { 'b.mssante.test' => "smtp:[127.0.0.3]:$pfb->{smtp_port}",
                   'x.mssante.test' => "smtp:[127.0.0.3]:$pfb->{smtp_port}" },
    submission => { args => ['milter_macro_daemon_name=ORIGINATING'] },
    main => { milter_default_action => 'tempfail', smtpd_milters => $milter{a}{socket}, %size,
              smtpd_relay_restrictions => 'permit_mynetworks, reject' });
my $sub = $pfa->{submission_port};

# write_msg - a message with text, HTML and an IHE_XDM.ZIP of n bytes
sub write_msg {
    my ($file, $to, $subject, $n) = @_;
    my $zip = join '', map { chr(int rand 256) } 1 .. ($n > 65536 ? 65536 : $n);
    $zip = substr($zip x (int($n / 65536) + 1), 0, $n);
    Sandbox::write_file($file, <<"EOF" . encode_base64($zip) . "--MIX--\n");
From: Dr Alice MARTIN <alice\@a.mssante.test>
To: $to
Subject: $subject
Message-ID: <$subject\@a.mssante.test>
X-MSS-NIL: LPS-TEST/2.1
X-MSS-CODECDA: 11490-0
Disposition-Notification-To: alice\@a.mssante.test
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="MIX"

--MIX
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Cher confr\xc3\xa8re, le compte rendu est joint.
--ALT
Content-Type: text/html; charset=utf-8

<p>Le compte rendu est joint.</p>
--ALT--
--MIX
Content-Type: application/zip; name="IHE_XDM.ZIP"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="IHE_XDM.ZIP"

EOF
    return $zip;
}

# arrived - wait for the n-th message of a mailbox
sub arrived {
    my ($user, $n) = @_;
    for (1 .. 300) {
        my @m = Smime::maildir($dc, $user);
        return $m[$n - 1] if @m >= $n;
        select undef, undef, undef, 0.2;
    }
    diag Sandbox::tail($pfa->{maillog}) . Sandbox::tail($pfb->{maillog});
    return '';
}

# --- 1. signed and encrypted, A to B; carol's key is not at B: delivered as it came
my $zip = write_msg("$dir/m1.eml", 'carol@b.mssante.test', 'cr-1', 30_000);
my ($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test'], "$dir/m1.eml");
is($rc, 0, 'submission accepts the message') or diag $t;
my $msg = arrived('carol@b.mssante.test', 1);
like(Smime::header($msg, 'Content-Type'), qr{^application/pkcs7-mime; smime-type=enveloped-data}, 'carol\'s copy is encrypted');
is(Smime::header($msg, 'X-MSSante-SMIME'),
   'signed=no; encrypted=yes; decrypted=no; algorithm=aes-256-cbc; reason="no key of ours for its recipients"',
   'B could not decrypt it and says why');
for my $h (qw(X-MSS-NIL X-MSS-CODECDA Disposition-Notification-To Message-ID Subject)) {
    is(Smime::header($msg, $h), Smime::header(Sandbox::slurp("$dir/m1.eml"), $h), "$h unchanged");
}
my ($ok, $entity, $e) = Smime::decrypt($sb, $msg, $p{carol});
ok($ok, 'openssl cms decrypts it') or diag $e;
my ($vok, $content, $ve) = Smime::verify($sb, $entity);
ok($vok, 'openssl cms verifies the signature') or diag $ve;
is(Smime::attachment($content, 'IHE_XDM.ZIP'), $zip, 'the decrypted IHE_XDM.ZIP is byte-identical');
my $g = Smime::gpgsm($sb, $p{carol});
my ($gok, $gentity, $gerr) = Smime::gpgsm_decrypt($sb, $g, $msg);
ok($gok, 'gpgsm decrypts it') or diag $gerr;
($gok, $gerr) = Smime::gpgsm_verify($sb, $g, $gentity);
ok($gok, 'gpgsm verifies the signature') or diag $gerr;

# --- 2. to bob, whose key B has: decrypted and verified on arrival
write_msg("$dir/m2.eml", 'bob@b.mssante.test', 'cr-2', 5000);
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['bob@b.mssante.test'], "$dir/m2.eml");
$msg = arrived('bob@b.mssante.test', 1);
is(Smime::header($msg, 'X-MSSante-SMIME'),
   'signed=yes; verified=yes; signer="CN=Alice MARTIN,O=CH A,C=FR"; signer-email=alice@a.mssante.test; '
   . 'encrypted=yes; decrypted=yes; algorithm=aes-256-cbc', 'B decrypted and verified it');
like(Smime::header($msg, 'Content-Type'), qr{^multipart/signed}, 'bob gets the signed message');
($vok, undef, $ve) = Smime::verify($sb, $msg);
ok($vok, 'openssl cms verifies what bob got') or diag $ve;
is(scalar(() = $msg =~ /^Content-Type:/mg) - scalar(() = Smime::body($msg) =~ /^Content-Type:/mg), 1,
   'one Content-Type in bob\'s headers');

# --- 3. signed only: dave has no certificate
write_msg("$dir/m3.eml", 'dave@b.mssante.test', 'cr-3', 5000);
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test', 'dave@b.mssante.test'], "$dir/m3.eml");
$msg = arrived('dave@b.mssante.test', 1);
like(Smime::header($msg, 'Content-Type'), qr{^multipart/signed}, 'one recipient without certificate: signed only');
like(Smime::header($msg, 'X-MSSante-SMIME'), qr/^signed=yes; verified=yes; signer="CN=Alice MARTIN/, 'B verified it');
($vok, undef, $ve) = Smime::verify($sb, $msg);
ok($vok, 'openssl cms verifies dave\'s copy') or diag $ve;
($gok, $gerr) = Smime::gpgsm_verify($sb, $g, $msg);
ok($gok, 'gpgsm verifies dave\'s copy') or diag $gerr;
(my $bad = $msg) =~ s/le compte rendu est joint/le compte rendu est jOint/ or die 'nothing to tamper';
($vok) = Smime::verify($sb, $bad);
($gok) = Smime::gpgsm_verify($sb, $g, $bad);
ok(!$vok && !$gok, 'one byte changed: both tools refuse it');

# --- 4. encrypt-required without certificate: 550 at RCPT
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['zed@x.mssante.test'], "$dir/m3.eml");
like($t, qr/^<[*~]+\s+550 5\.7\.1 .*no usable certificate for this recipient/m, 'encrypt-required, no certificate: 550 5.7.1 at RCPT');

# --- 4b. a sender outside our domains can never have a certificate: 550 at MAIL, not 451 forever
($rc, $t) = Smime::send('127.0.0.2', $sub, 'x@evil.example', ['carol@b.mssante.test'], "$dir/m3.eml");
like($t, qr/^<[*~]+\s+550 5\.7\.1 .*Sender not in our domains: no signing certificate can exist/m,
     'a sender outside our domains: 550 5.7.1 at MAIL FROM, saying why') or diag $t;
unlike($t, qr/^ -> RCPT TO/m, 'refused before any recipient');
like(Sandbox::slurp($milter{a}{log}), qr/reject: MAIL FROM: sender x\@evil\.example is not in one of our domains/,
     'the milter log says why');

# --- 5. key file unreadable: 451, nothing in clear; delivered once fixed
my $before = () = Smime::maildir($dc, 'carol@b.mssante.test');
chmod 0, $p{alice}{key};
write_msg("$dir/m5.eml", 'carol@b.mssante.test', 'cr-5', 5000);
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test'], "$dir/m5.eml");
like($t, qr/^<[*~]+\s+451 4\.7\.0/m, 'signing key unreadable: 451 at end of data') or diag $t;
like(Sandbox::slurp($milter{a}{log}), qr/private key .*smime-alice\.key: cannot open: Permission denied/, 'the milter log names the key file');
is(scalar(() = Smime::maildir($dc, 'carol@b.mssante.test')), $before, 'nothing more reached carol (refused at end of data: never queued)');
chmod 0600, $p{alice}{key};
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test'], "$dir/m5.eml");
is($rc, 0, 'the same message, once the key is readable: accepted') or diag $t;
$msg = arrived('carol@b.mssante.test', $before + 1);
like(Smime::header($msg, 'Content-Type'), qr{^application/pkcs7-mime}, 'and delivered encrypted');

# --- 6. PostgreSQL down: 451 at RCPT; back: accepted
$w->{pg}{stop}->();
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test'], "$dir/m5.eml");
like($t, qr/^<[*~]+\s+451 4\.7\.0/m, 'database down: 451') or diag $t;
$w->{pg}{start}->();
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['carol@b.mssante.test'], "$dir/m5.eml");
is($rc, 0, 'database back: accepted') or diag $t;
ok(arrived('carol@b.mssante.test', $before + 2), 'and delivered');

# --- 7. a 25 MB attachment, through both milters
$zip = write_msg("$dir/big.eml", 'bob@b.mssante.test', 'big', 25_000_000);
($rc, $t) = Smime::send('127.0.0.2', $sub, 'alice@a.mssante.test', ['bob@b.mssante.test'], "$dir/big.eml",
                        '--suppress-data');
is($rc, 0, '25 MB: accepted') or diag $t;
$msg = arrived('bob@b.mssante.test', 2);
like(Smime::header($msg, 'X-MSSante-SMIME'), qr/^signed=yes; verified=yes; .*decrypted=yes/, '25 MB: decrypted and verified at B');
($vok, $content, $ve) = Smime::verify($sb, $msg);
ok($vok, '25 MB: openssl cms verifies it') or diag $ve;
ok(Smime::attachment($content, 'IHE_XDM.ZIP') eq $zip, '25 MB: the attachment is byte-identical');
for my $op (qw(a b)) {
    my ($hwm) = Sandbox::slurp("/proc/$milter{$op}{pid}/status") =~ /VmHWM:\s+(\d+)/;
    diag "milter-smime $op: peak RSS " . int($hwm / 1024) . " MB after a 25 MB message";
}
like(Sandbox::slurp($pfa->{maillog}), qr/status=sent/, 'A relayed');
# --- 8. honest size limits, with the shipped numbers: submission announces what fits
# once signed and encrypted (a message just under it is delivered, just over it gets 552)
my ($global) = Sandbox::slurp("$FindBin::Bin/../conf/postfix-main.cf") =~ /^message_size_limit = (\d+)$/m;
my ($announced) = Sandbox::slurp("$FindBin::Bin/../conf/postfix-master.cf") =~ /-o message_size_limit=(\d+)/;
ok($global && $announced && $announced < $global, "the snippets: submission $announced, queue $global");
my $pfc = $sb->postfix(name => 'c', addr => '127.0.0.4', hostname => 'mx.a.mssante.test',
    transport => { 'b.mssante.test' => "smtp:[127.0.0.3]:$pfb->{smtp_port}" },
    submission => { args => ['milter_macro_daemon_name=ORIGINATING', "message_size_limit=$announced"] },
    main => { milter_default_action => 'tempfail', smtpd_milters => $milter{a}{socket}, message_size_limit => $global,
              smtpd_relay_restrictions => 'permit_mynetworks, reject' });
my $ehlo = qx{swaks --server 127.0.0.4 --port $pfc->{submission_port} --quit-after EHLO 2>&1};
like($ehlo, qr/250.SIZE $announced\b/, 'submission announces SIZE ' . $announced);
for my $case ([0.98, 'under'], [1.02, 'over']) {
    my ($f, $what) = @$case;
    my $file = "$dir/size-$what.eml";
    write_msg($file, 'bob@b.mssante.test', "size-$what", int($announced * $f * 3 / 4 * 76 / 77));
    my $size = -s $file;
    ($rc, $t) = Smime::send('127.0.0.4', $pfc->{submission_port}, 'alice@a.mssante.test', ['bob@b.mssante.test'],
                            $file, '--suppress-data');
    if ($what eq 'under') {
        ok($size < $announced && $size > $announced * 0.97, "a message of $size bytes, just under");
        is($rc, 0, 'accepted') or diag $t;
        my $m = arrived('bob@b.mssante.test', 3);
        like(Smime::header($m, 'X-MSSante-SMIME'), qr/^signed=yes; verified=yes; .*decrypted=yes/,
             'signed and encrypted on the way, delivered');
    } else {
        ok($size > $announced, "a message of $size bytes, just over");
        like($t, qr/^<[*~]+\s+552 5\.3\.4 /m, 'refused with 552 5.3.4, cleanly') or diag $t;
    }
}
unlike(Sandbox::slurp($pfc->{maillog}), qr/message file too big|deferred/, 'no queue file too big, nothing deferred');

my @leftover = grep { !/^\.\.?$/ } do { opendir my $d, "$dir/smime-spool"; readdir $d };
is(scalar @leftover, 0, 'no temporary file left in the spool directory');

done_testing;
