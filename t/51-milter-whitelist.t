#!/usr/bin/perl
# milter-whitelist with the real servers: operators A (127.0.0.2) and B
# (127.0.0.3), each a Postfix with mutual TLS from the test IGC-Santé and
# its own milter, B delivering to Dovecot; a third operator C (127.0.0.4)
# talks to B with swaks and its own certificate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $pki = $sb->pki;
my $issuer = $pki->{organisations}{cn};
my %op;
for my $k (qw(a b c)) {
    $op{$k} = $sb->issue(kind => 'server', cn => "mx.$k.mssante.test", ou => "31831002130002$k",
                         o => 'OPERATEUR ' . uc($k), st => 'Gironde (33)');
}
$op{a}{ou} = '31831002130002a';
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');

# The list: each operator for its own domain; A's DN written as a human would.
my $dn_a_written = 'CN=mx.a.mssante.test, OU=31831002130002a, O="OPERATEUR  A", ST=Gironde (33), C=FR';
(my $dn_a_quoted = $dn_a_written) =~ s/(["\\])/\\$1/g;    # inside the header's quoted-string
my @entries = (['a.mssante.test', $dn_a_written], ['b.mssante.test', $op{b}{dn}],
               ['c.mssante.test', $op{c}{dn}]);
my $lb_good = ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $signer, "$dir/lb-good.xml");

# milter_conf - one operator's mssante.conf
sub milter_conf {
    my ($k, $file) = @_;
    return Sandbox::write_file("$dir/$k.conf", join '', map { "$_\n" }
        "whitelist_file = $file",
        "whitelist_trust_anchors = $pki->{bundle}",
        "our_domains = $k.mssante.test",
        "whitelist_issuer_cns = $issuer",
        "outbound_daemons = ORIGINATING",
        "whitelist_check_interval = 1s");
}
my %lbfile = (a => "$dir/a-lb.xml", b => "$dir/b-lb.xml");
Sandbox::write_file($lbfile{$_}, Sandbox::slurp($lb_good)) for qw(a b);
my %milter;
for my $k (qw(a b)) {
    $milter{$k} = $sb->milter(bin => $sb->bin('milter-whitelist'), name => "wl-$k",
                              args => ['-c', milter_conf($k, $lbfile{$k}), '-u', 'postfix']);
}

my %users = ('jean.dupont@a.mssante.test' => 'Secret-A', 'marie.martin@b.mssante.test' => 'Secret-B');
my $dc = $sb->dovecot(users => \%users);
my $tls_ciphers = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256';
my %common = (
    milter_default_action => 'tempfail', milter_protocol => 6,
    smtpd_tls_security_level => 'may', smtpd_tls_ask_ccert => 'yes',
    smtpd_tls_CAfile => $pki->{bundle}, smtpd_tls_protocols => '>=TLSv1.2',
    smtpd_tls_mandatory_protocols => '>=TLSv1.2', smtpd_tls_loglevel => 1,
    smtp_tls_security_level => 'encrypt', smtp_tls_CAfile => $pki->{bundle},
    smtp_tls_protocols => '>=TLSv1.2', smtp_tls_mandatory_protocols => '>=TLSv1.2',
    smtp_tls_mandatory_ciphers => 'high', tls_high_cipherlist => $tls_ciphers,
    smtp_tls_loglevel => 1,
);
my %port = map { $_ => Sandbox::free_port("127.0.0.$_") } 2, 3;
my %pf;
for my $k (qw(a b)) {
    my $n = $k eq 'a' ? 2 : 3;
    my $other = $k eq 'a' ? 'b' : 'a';
    my $on = $other eq 'a' ? 2 : 3;
    $pf{$k} = $sb->postfix(name => $k, addr => "127.0.0.$n", port => $port{$n},
        hostname => "mx.$k.mssante.test", domains => ["$k.mssante.test"],
        recipients => [grep { /\@$k\./ } keys %users],
        lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
        transport => { "$other.mssante.test" => "smtp:[127.0.0.$on]:$port{$on}" },
        submission => { args => ['milter_macro_daemon_name=ORIGINATING'] },
        main => { %common, smtpd_milters => $milter{$k}{socket}, non_smtpd_milters => $milter{$k}{socket},
                  smtpd_tls_cert_file => $op{$k}{chain}, smtpd_tls_key_file => $op{$k}{key},
                  smtp_tls_cert_file => $op{$k}{chain}, smtp_tls_key_file => $op{$k}{key} });
}

# inbox - the header block of the message with a subject, for a user, or undef
sub inbox {
    my ($user, $subject, $folder) = @_;
    my $imap = $sb->imap($dc->{imap_port}, $user, $users{$user});
    my $h = $imap->find($folder || 'INBOX', $subject);
    $imap->logout;
    return $h;
}

sub drained { $sb->postqueue_empty($_, 30) or return 0 for @pf{qw(a b)}; 1 }

my $A = 'jean.dupont@a.mssante.test';
my $B = 'marie.martin@b.mssante.test';

# --- 1. A's user to B's user, across the mutual TLS link
my ($rc, $t) = Sandbox::swaks('127.0.0.2', $pf{a}{submission_port}, from => $A, to => [$B], subject => 'a-to-b');
is($rc, 0, 'A accepts its user\'s message for B') or diag $t;
ok(drained(), 'delivered through A and B') or diag Sandbox::tail($pf{a}{maillog}) . Sandbox::tail($pf{b}{maillog});
my $h = inbox($B, 'a-to-b');
like($h, qr/^X-MSSante-Trust: mssante; domain=a\.mssante\.test; operator="\Q$dn_a_quoted\E"\r?$/m,
     'B\'s copy carries X-MSSante-Trust naming A\'s operator DN as listed');
like(Sandbox::slurp($pf{b}{maillog}), qr/Trusted TLS connection established from \S+\[127\.0\.0\.2\]: TLSv1\.[23]/,
     'B saw a trusted TLS client certificate from A');

# --- 2. one listed and one gmail.com recipient: gmail refused at RCPT, the other delivered
($rc, $t) = Sandbox::swaks('127.0.0.2', $pf{a}{submission_port}, from => $A, to => [$B, 'someone@gmail.com'],
                     subject => 'mixed');
like($t, qr/<\*\* +550-5\.7\.1 <someone\@gmail\.com>: destinataire hors de l'espace de confiance MSSante/,
     'gmail.com refused at RCPT with 550 5.7.1, French text');
like($t, qr/<\*\* +550 5\.7\.1 <someone\@gmail\.com>: recipient outside the MSSante trust space/,
     'and English text');
ok(drained() && inbox($B, 'mixed'), 'the listed recipient of the same message is delivered');

# --- 3. local submission (sendmail, as a sieve redirect would) to a non-listed address
my $sm = qx{printf 'Subject: redirect-out\\n\\nbody\\n' | sendmail -C $pf{a}{config_dir} -f $A outside\@gmail.com 2>&1};
ok(drained(), 'queue settles after the local submission');
my $maillog_a = Sandbox::slurp($pf{a}{maillog});
like($maillog_a, qr/milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.1 Recipients outside the MSSante trust space.*: outside\@gmail\.com/,
     'local submission to gmail.com refused at end of message');
unlike($maillog_a, qr/to=<outside\@gmail\.com>.*status=(sent|deferred)/, 'nothing was sent to gmail.com');
my $bounce = inbox($A, 'Undelivered Mail Returned to Sender');
ok($bounce, 'the sender got a bounce') or diag $maillog_a;
like($maillog_a, qr/to=<outside\@gmail\.com>, relay=none, .*status=bounced \(Recipients outside the MSSante trust space/,
     'the bounce names the refused recipient and the reason');

# --- 4. into B from outside: wrong operator, no certificate, forged header
($rc, $t) = Sandbox::swaks('127.0.0.3', $port{3}, local => '127.0.0.4', cert => $op{c}, from => $A,
                     to => [$B], subject => 'third-operator');
like($t, qr/<~\* +550 5\.7\.1 Certificate not listed for the sender domain/,
     'A\'s address with a third operator\'s valid certificate: 550 5.7.1') or diag $t;
($rc, $t) = Sandbox::swaks('127.0.0.3', $port{3}, local => '127.0.0.4', tls => 1, from => $A, to => [$B],
                     subject => 'no-cert');
like($t, qr/<~\* +550 5\.7\.1 A verified IGC-Sante client certificate is required/,
     'no client certificate: 550 5.7.1') or diag $t;
($rc, $t) = Sandbox::swaks('127.0.0.3', $port{3}, local => '127.0.0.2', cert => $op{a}, from => $A, to => [$B],
                     subject => 'forged-header', headers => ["From: <$A>",
                     'X-MSSante-Trust: mssante; domain=b.mssante.test; operator="CN=forged"']);
is($rc, 0, 'A\'s certificate with a forged X-MSSante-Trust: accepted') or diag $t;
ok(drained(), 'delivered');
$h = inbox($B, 'forged-header');
my @trust = $h =~ /^(X-MSSante-Trust: .*?)\r?$/mg;
is(scalar @trust, 1, 'exactly one X-MSSante-Trust header arrives');
like($trust[0], qr/operator="\Q$dn_a_quoted\E"/, 'it is the real verdict, the forged copy is gone');
($rc, $t) = Sandbox::swaks('127.0.0.3', $port{3}, local => '127.0.0.2', cert => $op{a}, from => $A, to => [$B],
                     subject => 'from-mismatch', headers => ['From: <boss@b.mssante.test>']);
like($t, qr/<~\* +550 5\.7\.1 From: header domain not listed for the sending operator/,
     'From: domain of another operator: 550 5.7.1') or diag $t;

# --- 5. a tampered list is refused, the old one stays in force
my $tampered = Sandbox::slurp($lb_good);
$tampered =~ s{</ListeDomaines>}{<Domaine><Nom>d.mssante.test</Nom><DNCertificatOperateur>$op{c}{dn}</DNCertificatOperateur></Domaine></ListeDomaines>};
Sandbox::write_file("$lbfile{a}.new", $tampered);
rename "$lbfile{a}.new", $lbfile{a};
kill 'USR1', $milter{a}{pid};
my $end = time + 10;
sleep 0.2 until Sandbox::slurp($milter{a}{log}) =~ /new liste blanche refused: .*bad signature/ || time > $end;
like(Sandbox::slurp($milter{a}{log}), qr/new liste blanche refused: .*bad signature.*keeping the list generated/,
     'the milter refuses the tampered list and says it keeps the old one');
($rc, $t) = Sandbox::swaks('127.0.0.2', $pf{a}{submission_port}, from => $A, to => ['x@d.mssante.test'], subject => 'to-d');
like($t, qr/<\*\* +550 5\.7\.1 <x\@d\.mssante\.test>/, 'a domain only in the tampered copy is still refused');

# --- 6. no list at all: 451, nothing lost; delivered once a valid list is back
$milter{b}{stop}->();
unlink $lbfile{b};
$milter{b} = $sb->milter(bin => $sb->bin('milter-whitelist'), name => 'wl-b2',
                         args => ['-c', "$dir/b.conf", '-u', 'postfix']);
($rc, $t) = Sandbox::swaks('127.0.0.2', $pf{a}{submission_port}, from => $A, to => [$B], subject => 'while-no-list');
is($rc, 0, 'A queues the message for B');
# B's main.cf names the old socket path: point it at the restarted milter.
system("postconf -c $pf{b}{config_dir} -e smtpd_milters=$milter{b}{socket} && postfix -c $pf{b}{config_dir} reload >/dev/null 2>&1");
my $deferred = 0;
$end = time + 20;
while (time < $end) {
    qx{postqueue -c $pf{a}{config_dir} -f 2>/dev/null};
    last if ($deferred = Sandbox::slurp($pf{a}{maillog}) =~ /to=<\Q$B\E>.*status=deferred .*451 4\.7\.0/);
    sleep 0.5;
}
ok($deferred, 'B answers 451 4.7.0 without a valid list; A keeps the message deferred');
like(Sandbox::slurp($milter{b}{log}), qr/no valid liste blanche loaded: message deferred/, 'B\'s milter says why');
ok(!inbox($B, 'while-no-list'), 'nothing delivered meanwhile');
Sandbox::write_file($lbfile{b}, Sandbox::slurp($lb_good));
kill 'USR1', $milter{b}{pid};
$end = time + 10;
sleep 0.2 until Sandbox::slurp($milter{b}{log}) =~ /liste blanche loaded/ || time > $end;
ok(drained(), 'once the list is installed the queue drains');
ok(inbox($B, 'while-no-list'), 'the deferred message is delivered, not lost');

# --- 7. the milter is gone: Postfix answers 451 (milter_default_action = tempfail)
# (Postfix then refuses STARTTLS with 454 too: the check is made in plain SMTP.)
$milter{b}{stop}->();
($rc, $t) = Sandbox::swaks('127.0.0.3', $port{3}, local => '127.0.0.2', from => $A, to => [$B],
                     subject => 'milter-down', headers => ["From: <$A>"]);
like($t, qr/<\*\* +451 4\.7\.1/, 'milter killed: 451 4.7.1') or diag $t;

done_testing;
