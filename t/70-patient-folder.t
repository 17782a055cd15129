#!/usr/bin/perl
# dovecot-patient-folder with the real servers: our operator A (Postfix on
# 127.0.0.2 with milter-whitelist, delivering by LMTP to a Maildir and an
# mdbox Dovecot, and by dovecot-lda through a pipe), the CNAM's operator P
# (127.0.0.4) listed for patient.mssante.fr, and an operator C (127.0.0.3)
# listed only for its own domain.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode qw(encode_utf8);
use Sandbox;
use ListeBlanche;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output);

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $pki = $sb->pki;
my %op;
$op{$_} = $sb->issue(kind => 'server', cn => "mx.$_.mssante.test", ou => "318310021300$_",
                     o => 'OPERATEUR ' . uc($_), st => 'Gironde (33)') for qw(a p c);
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
my $lb = ListeBlanche::sign(ListeBlanche::document(entries => [
    ['a.mssante.test', $op{a}{dn}], ['patient.mssante.fr', $op{p}{dn}], ['c.mssante.test', $op{c}{dn}]]),
    $signer, "$dir/lb.xml");
my $milter = $sb->milter(bin => $sb->bin('milter-whitelist'), name => 'wl-a', args => ['-c',
    Sandbox::write_file("$dir/a.conf", join '', map { "$_\n" }
        "whitelist_file = $lb", "whitelist_trust_anchors = $pki->{bundle}",
        "our_domains = a.mssante.test", "whitelist_issuer_cns = $pki->{organisations}{cn}",
        "outbound_daemons = ORIGINATING"), '-u', 'postfix']);

# Two Dovecots with the plugin and Sieve: Maildir (the folder special-use by
# configuration, subscribed by the plugin) and mdbox (not subscribed, folder
# names in UTF-8 on disk).
my $plugin = $sb->build . '/dovecot/lib95_mssante_patient_folder_plugin.so';
my $FOLDER = 'Échanges Patients';
my $FOLDER7 = '&AMk-changes Patients';             # its IMAP (modified UTF-7) name
my $pw = 'Secret-1';
my %users = map { ("dr.$_\@a.mssante.test" => $pw) } qw(maildir keep lda perm mdbox);
my %dc;
# A copy of the shipped snippet: dovecot-lda (the mail user) reads it, and
# the checkout may be where that user cannot.
Sandbox::write_file("$dir/dovecot-patient-folder.conf", Sandbox::slurp($sb->top . '/conf/dovecot-patient-folder.conf'));
# mdbox users get a 1 MB quota (the quota plugin before ours in the list)
my $quota = "mail_plugins = quota\nplugin {\n  quota_vsizes = yes\n  quota = count:User quota\n  quota_rule = *:storage=1M\n}\n";
for my $format (qw(maildir mdbox)) {
    my $sieve = "$dir/sieve-$format";
    $dc{$format} = $sb->dovecot(name => "dc-$format", mail => $format, plugins => [$plugin],
        mail_options => $format eq 'mdbox' ? ':UTF-8' : '',
        users => { map { $_ => $users{$_} } grep { $format eq 'mdbox' ? /mdbox/ : !/mdbox/ } keys %users },
        extra => encode_utf8(<<"EOF"));
${\ ($format eq 'mdbox' ? $quota : '') }# the snippet we ship, then what this sandbox changes
!include $dir/dovecot-patient-folder.conf
protocol lda {
  log_path = $dir/lda.log
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox "$FOLDER" {
    special_use = \\Important
  }
}
plugin {
  sieve = file:$sieve/%n;active=$sieve/%n/active.sieve
  mssante_patient_folder_subscribe = ${\ ($format eq 'mdbox' ? 'no' : 'yes') }
}
service auth {
  unix_listener auth-userdb {
    mode = 0600
    user = nobody
  }
}
EOF
}
my (undef, undef, $nobody, $nogroup) = getpwnam('nobody');
Sandbox::write_file("$dir/lda.log", '');
chown $nobody, $nogroup, "$dir/lda.log";      # dovecot-lda runs as the mail user
# sieve_script - a user's active script (compiled by Sieve on first use)
sub sieve_script {
    my ($user, $text) = @_;
    my $d = "$dir/sieve-maildir/$user";
    Sandbox::write_file("$d/active.sieve", $text);
    system('chown', '-R', "$nobody:$nogroup", $d);
}
sieve_script('dr.maildir', qq{require ["fileinto", "mailbox"];\nif header :contains "subject" "ordonnance" { fileinto :create "Ordonnances"; }\n});
sieve_script('dr.keep', "keep;\n");

my $conf_maildir = $dc{maildir}{conf};
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test',
    domains => ['a.mssante.test'], recipients => [sort keys %users],
    lmtp => "inet:127.0.0.1:$dc{maildir}{lmtp_port}",
    transport => { 'dr.mdbox@a.mssante.test' => "lmtp:inet:127.0.0.1:$dc{mdbox}{lmtp_port}",
                   'dr.lda@a.mssante.test' => 'dovecot-lda:' },
    submission => { args => ['milter_macro_daemon_name=ORIGINATING'] },
    master => "dovecot-lda unix -    n       n       -       -       pipe\n"
            . "  flags=DRhu user=nobody argv=/usr/bin/env @{ $dc{maildir}{env} } /usr/lib/dovecot/dovecot-lda -c $conf_maildir"
            . ' -f ${sender} -a ${original_recipient} -d ${user}@${nexthop}' . "\n",
    main => { milter_default_action => 'tempfail', milter_protocol => 6,
              smtpd_milters => $milter->{socket}, non_smtpd_milters => $milter->{socket},
              'dovecot-lda_destination_recipient_limit' => 1,
              smtpd_tls_security_level => 'may', smtpd_tls_ask_ccert => 'yes',
              smtpd_tls_CAfile => $pki->{bundle}, smtpd_tls_cert_file => $op{a}{chain},
              smtpd_tls_key_file => $op{a}{key} });
my $port = $pf->{smtp_port};

# user_of - which Dovecot holds a user's mail
sub dc_of { $_[0] =~ /mdbox/ ? $dc{mdbox} : $dc{maildir} }

# where - the folders (of INBOX, the patient folder, Ordonnances) holding a subject
sub where {
    my ($user, $subject) = @_;
    my $imap = $sb->imap(dc_of($user)->{imap_port}, $user, $pw);
    my @in = grep { $imap->find($_, $subject) } 'INBOX', $FOLDER7, 'Ordonnances';
    $imap->logout;
    return join ',', @in;
}

sub drained { $sb->postqueue_empty($pf, 30) }

my $INS = '284057512345678';
my $PATIENT = "$INS\@patient.mssante.fr";
my @doctors = map { "dr.$_\@a.mssante.test" } qw(maildir keep lda mdbox);

# --- 1. patient mail relayed by the CNAM's operator, to every kind of mailbox
my ($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.4', cert => $op{p}, from => $PATIENT,
                              to => \@doctors, subject => 'question-patient', headers => ["From: <$PATIENT>"]);
is($rc, 0, 'A accepts mail from the patient domain relayed by its listed operator') or diag $t;
ok(drained(), 'delivered') or diag Sandbox::tail($pf->{maillog});
for my $u (@doctors) {
    is(where($u, 'question-patient'), $FOLDER7, "$u: in \"$FOLDER\" only, not INBOX");
}
my $maildir_root = "$dc{maildir}{maildir}/a.mssante.test/dr.maildir";
ok(-d "$maildir_root/.$FOLDER7/cur", 'Maildir: the folder is on disk under its modified UTF-7 name');
ok(-d encode_utf8("$dc{mdbox}{maildir}/a.mssante.test/dr.mdbox/mailboxes/$FOLDER"),
   'mdbox with :UTF-8: the folder is on disk under its UTF-8 name');
like(Sandbox::slurp($pf->{maillog}), qr/to=<dr\.lda\@a\.mssante\.test>.*relay=dovecot-lda.*status=sent/,
     'the dovecot-lda copy went through the pipe transport');
like(Sandbox::slurp("$dir/lda.log"), qr/lda\(dr\.lda\@a\.mssante\.test\).*saved mail to \Q${\ encode_utf8($FOLDER)}\E/,
     'and dovecot-lda filed it');

my $imap = $sb->imap($dc{maildir}{imap_port}, 'dr.maildir@a.mssante.test', $pw);
my (undef, $list) = $imap->cmd('LIST "" "*" RETURN (SPECIAL-USE SUBSCRIBED)');
like($list, qr/^\* LIST \((?=[^)]*\\Important)(?=[^)]*\\Subscribed)[^)]*\) "\/" "?\Q$FOLDER7\E"?\r$/m,
     'LIST shows the folder, special-use \\Important and subscribed, under its IMAP name') or diag $list;
$imap->logout;
$imap = $sb->imap($dc{mdbox}{imap_port}, 'dr.mdbox@a.mssante.test', $pw);
(undef, $list) = $imap->cmd('LIST "" "*" RETURN (SUBSCRIBED)');
like($list, qr/^\* LIST \([^)]*\) "\/" "?\Q$FOLDER7\E"?\r$/m, 'mdbox: LIST shows the folder');
unlike($list, qr/^\* LIST \([^)]*\\Subscribed[^)]*\) "\/" "?\Q$FOLDER7\E"?\r$/m,
       'not subscribed where mssante_patient_folder_subscribe = no') or diag $list;
$imap->logout;
$imap = $sb->imap($dc{maildir}{imap_port}, 'dr.maildir@a.mssante.test', $pw);
my $h = $imap->find($FOLDER7, 'question-patient');
like($h, qr/^X-MSSante-Trust: mssante; domain=patient\.mssante\.fr;/m, 'the trust verdict is kept in the message');
$imap->logout;

# --- 2. [FIN] and X-MSS-MES: FIN are filed the same way, header kept
($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.4', cert => $op{p}, from => $PATIENT,
                           to => ['dr.keep@a.mssante.test'], subject => '[FIN] fin-echange',
                           headers => ["From: <$PATIENT>", 'X-MSS-MES: FIN']);
ok(drained(), 'the [FIN] message is delivered') or diag $t;
is(where('dr.keep@a.mssante.test', 'fin-echange'), $FOLDER7, '[FIN] message filed into the patient folder');
$imap = $sb->imap($dc{maildir}{imap_port}, 'dr.keep@a.mssante.test', $pw);
like($imap->find($FOLDER7, 'fin-echange'), qr/^X-MSS-MES: FIN\r?$/m, 'X-MSS-MES: FIN is kept');
$imap->logout;

# --- 3. users' Sieve scripts still apply
($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.4', cert => $op{p}, from => $PATIENT,
                           to => ['dr.maildir@a.mssante.test'], subject => 'ordonnance-renouvellement',
                           headers => ["From: <$PATIENT>"]);
ok(drained(), 'delivered') or diag $t;
is(where('dr.maildir@a.mssante.test', 'ordonnance-renouvellement'), 'Ordonnances',
   'a user script filing by subject still files patient mail');
like(Sandbox::slurp($dc{maildir}{log}), qr/dr\.keep\@a\.mssante\.test.*sieve: .*stored mail into mailbox '\Q${\ encode_utf8($FOLDER)}\E'/,
     'the keep of a user script stored the patient message in the patient folder');

# --- 4. forgeries stay out
($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.3', cert => $op{c}, from => $PATIENT,
                           to => ['dr.maildir@a.mssante.test'], subject => 'forged-operator',
                           headers => ["From: <$PATIENT>"]);
like($t, qr/<~\* +550 5\.7\.1 Certificate not listed for the sender domain/,
     'patient domain relayed by an operator not listed for it: refused by milter-whitelist') or diag $t;
($rc, $t) = Sandbox::swaks('127.0.0.2', $pf->{submission_port}, from => $PATIENT,
                           to => ['dr.maildir@a.mssante.test'], subject => 'forged-local',
                           headers => ["From: <$PATIENT>",
                                       'X-MSSante-Trust: mssante; domain=patient.mssante.fr; operator="CN=x"']);
is($rc, 0, 'a local user submits mail with a patient From: and a forged verdict') or diag $t;
ok(drained(), 'delivered');
is(where('dr.maildir@a.mssante.test', 'forged-local'), 'INBOX', 'it lands in INBOX, not the patient folder');
like(Sandbox::slurp($dc{maildir}{log}), qr/mssante-patient-folder: sender in patient\.mssante\.fr but not patient mail: submitted by a local user/,
     'the plugin logs why it is not patient mail');
unlike(Sandbox::slurp($dc{maildir}{log}), qr/\Q$INS\E[^\n]*mssante-patient-folder|mssante-patient-folder[^\n]*\Q$INS\E/,
       'the plugin never logs the patient\'s address');

# --- 5. the folder cannot be created: LMTP 451, queued, delivered once fixed
my $perm_root = "$dc{maildir}{maildir}/a.mssante.test/dr.perm";
($rc, $t) = Sandbox::swaks('127.0.0.2', $pf->{submission_port}, from => 'dr.maildir@a.mssante.test',
                           to => ['dr.perm@a.mssante.test'], subject => 'first-mail');
ok(drained() && -d "$perm_root/cur", 'a first mail creates dr.perm\'s Maildir') or diag $t;
chmod 0555, $perm_root;
($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.4', cert => $op{p}, from => $PATIENT,
                           to => ['dr.perm@a.mssante.test'], subject => 'while-read-only',
                           headers => ["From: <$PATIENT>"]);
is($rc, 0, 'accepted by Postfix') or diag $t;
my $deferred;
for (1 .. 40) {
    last if ($deferred = Sandbox::slurp($pf->{maillog}) =~ /to=<dr\.perm\@a\.mssante\.test>.*status=deferred \(.*451 4\.2\.0 <dr\.perm\@a\.mssante\.test> Cannot open the patient folder/);
    select undef, undef, undef, 0.25;
}
ok($deferred, 'the folder cannot be created: LMTP 451, Postfix defers') or diag Sandbox::tail($pf->{maillog});
is(where('dr.perm@a.mssante.test', 'while-read-only'), '', 'not filed anywhere else meanwhile (no INBOX fallback)');
like(Sandbox::slurp($dc{maildir}{log}), qr/dr\.perm\@.*failed: Permission denied\n.*mssante-patient-folder: cannot create folder \Q${\ encode_utf8($FOLDER)}\E/,
     'Dovecot\'s log says why');
chmod 0700, $perm_root;
system("postqueue -c $pf->{config_dir} -f");
ok(drained(), 'once fixed, the queued message is delivered');
is(where('dr.perm@a.mssante.test', 'while-read-only'), $FOLDER7, 'into the patient folder');

# --- 6. a full mailbox: 452 (the snippet's quota_full_tempfail), queued, delivered once fixed
my $line = ('Compte rendu. ' x 70) . "\n";
my $big = Sandbox::write_file("$dir/big.txt", $line x 1500);
($rc, $t) = Sandbox::swaks('127.0.0.2', $port, local => '127.0.0.4', cert => $op{p}, from => $PATIENT,
                           to => ['dr.mdbox@a.mssante.test'], subject => 'over-quota',
                           headers => ["From: <$PATIENT>"], body => "\@$big");
is($rc, 0, 'a 1.5 MB patient message for a 1 MB mailbox is accepted by Postfix') or diag $t;
$deferred = 0;
for (1 .. 40) {
    last if ($deferred = Sandbox::slurp($pf->{maillog}) =~ /to=<dr\.mdbox\@a\.mssante\.test>.*status=deferred \(.*452 4\.2\.2 /);
    select undef, undef, undef, 0.25;
}
ok($deferred, 'over quota: LMTP 452, Postfix keeps it') or diag Sandbox::tail($pf->{maillog});
my $mdbox_conf = Sandbox::slurp($dc{mdbox}{conf});
$mdbox_conf =~ s/storage=1M/storage=10M/ or die 'no quota rule';
Sandbox::write_file($dc{mdbox}{conf}, $mdbox_conf);
system("doveadm -c $dc{mdbox}{conf} reload");
system("postqueue -c $pf->{config_dir} -f");
ok(drained(), 'quota raised: the queued message is delivered');
is(where('dr.mdbox@a.mssante.test', 'over-quota'), $FOLDER7, 'into the patient folder');

# --- 7. the plugin refuses other services
my $imap_log = Sandbox::slurp($dc{maildir}{log});
unlike($imap_log, qr/Plugin is intended to be used only by/, 'no load error in LMTP or LDA');
my $out = qx{env @{ $dc{maildir}{env} } doveadm -c $conf_maildir -o mail_plugins=mssante_patient_folder mailbox list -u dr.maildir\@a.mssante.test 2>&1};
like($out, qr/Can't load plugin mssante_patient_folder_plugin: Plugin is intended to be used only by binaries: lmtp lda/,
     'any other Dovecot program refuses to load it');

my @reports = $sb->sanitizer_reports;
is(scalar @reports, 0, 'no sanitizer report from the plugin') or diag @reports;

done_testing();
