#!/usr/bin/perl
# New-mail notices with the real Postfix (pgsql maps) delivering over LMTP to
# the real Dovecot (SQL userdb, the shipped dovecot-notify.conf and our
# plugin): a message an MSSanté operator relayed gives one notice at the
# BAL's notification address, holding nothing of the message; a burst gives
# one notice, the next one counts what came since; local or unverified mail
# gives none unless the BAL asks for local mail; a sendmail that fails
# leaves delivery intact. The local sendmail is a recorder here (Dovecot's
# mail user may not submit into the sandbox's Postfix); t/89-quota.t sends
# the same kind of notice through the real one. The same deliveries carry
# the marks plugin (shipped dovecot-marks.conf): the milters' verdicts
# become IMAP keywords, forged or local ones none.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Net::SMTP;
use Time::HiRes qw(sleep time);
use Sandbox;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my ($pg, $conf) = $sb->migrated;
my $psql = $pg->{psql};
Sandbox::write_file($conf, Sandbox::slurp($conf) . "our_domains = a.mssante.test\n");
Sandbox::write_file("$dir/form.csv", "login;nom;prenom;email_contact;bal;rpps_adeli;notification\n"
    . "jean.dupont;DUPONT;Jean;jean\@perso.test;jean.dupont\@a.mssante.test;10001234567;jean.notif\@perso.test\n"
    . "anne.martin;MARTIN;Anne;anne\@perso.test;anne.martin\@a.mssante.test;10001234568;fail\@perso.test\n"
    . "paul.durand;DURAND;Paul;paul\@perso.test;paul.durand\@a.mssante.test;10001234569;\n");
my ($rc, undef, $err) = $sb->command('', $sb->bin('mssante-admin'), '-c', $conf, 'import', "$dir/form.csv", '--apply');
is($rc, 0, 'three BALs imported, two with a notification address') or diag $err;

# The recorder: each notice in a file of its own; fail@perso.test makes it fail.
mkdir "$dir/notices";
chown scalar(getpwnam('nobody')), -1, "$dir/notices";
Sandbox::write_file("$dir/sendmail", <<"EOF", 0755);
#!/bin/sh
case "\$*" in *fail\@perso.test*) echo "sendmail: cannot submit" >&2; exit 75;; esac
f=$dir/notices/\$\$
{ echo "ARGS \$*"; cat; } > \$f.tmp && mv \$f.tmp \$f
EOF
my $snippet = Sandbox::slurp("$FindBin::Bin/../conf/dovecot-notify.conf");
my $n = ($snippet =~ s/^(\s*mssante_notify_sender =).*$/$1 notices\@a.mssante.test/m)
      + ($snippet =~ s/^(\s*mssante_notify_sendmail =).*$/$1 $dir\/sendmail/m)
      + ($snippet =~ s/^(\s*mssante_notify_url =).*$/$1 https:\/\/webmail.a.mssante.test\//m);
is($n, 3, 'the shipped snippet, its sender, sendmail and link set');
my $dc = $sb->dovecot(plugins => [map { $sb->build . "/dovecot/lib96_mssante_${_}_plugin.so" } qw(notify marks)],
                      userdb_sql => 1, users => { 'jean.dupont@a.mssante.test' => 'Mot-de-passe-1' },
                      extra => $snippet . Sandbox::slurp("$FindBin::Bin/../conf/dovecot-marks.conf"));
my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', pgsql => 1,
                      lmtp => "inet:127.0.0.1:$dc->{lmtp_port}");

my $trusted = 'X-MSSante-Trust: mssante; domain=b.mssante.test; operator="CN=mx.b.mssante.test,O=B,C=FR"';
my $smime = 'X-MSSante-SMIME: signed=yes; verified=yes; signer="CN=dr.x"; encrypted=yes; decrypted=yes';
sub send_msg {
    my ($to, $id, @headers) = @_;
    my $msg = join('', map { "$_\r\n" } "From: Dr Secret <dr.secret\@b.mssante.test>", "To: <$to>",
                   "Subject: Resultats-IRM-Martin-$id", "Message-ID: <$id\@b.test>", @headers,
                   'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"')
            . "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nCONFIDENTIEL tumeur $id\r\n"
            . "--b1\r\nContent-Type: application/pdf; name=\"bilan-patient-martin.pdf\"\r\n"
            . "Content-Disposition: attachment; filename=\"bilan-patient-martin.pdf\"\r\n"
            . "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
    my $s = Net::SMTP->new('127.0.0.2', Port => $pf->{smtp_port}, Timeout => 30) or die "connect: $@";
    $s->mail('dr.secret@b.mssante.test');
    $s->to($to) and $s->data($msg);
    my $code = $s->code;
    $s->quit;
    return $code;
}
sub stored { my ($local) = @_; scalar(() = glob "$dc->{maildir}/a.mssante.test/$local/{new,cur}/*") }
sub until_ok { my ($what, $secs) = @_; my $end = time + $secs; sleep 0.2 until $what->() || time > $end; $what->() }
sub notices { map { Sandbox::slurp($_) } sort glob "$dir/notices/[0-9]*" }
# decided - the plugin's decisions so far (in Dovecot's log, made before delivery ends)
sub decided { scalar(() = Sandbox::slurp($dc->{log}) =~ /mssante-notify: notice of/g) }
# rewind - as if the last notice to jean went out long ago
sub rewind {
    my $f = "$dc->{dir}/home/a.mssante.test/jean.dupont/.mssante-notify";
    my ($last, $pending) = Sandbox::slurp($f) =~ /^(\d+) (\d+)/ or die "no state in $f";
    Sandbox::write_file($f, ($last - 3600) . " $pending\n");
}

# 1. One verified message: one notice, nothing of the message in it.
is(send_msg('jean.dupont@a.mssante.test', 'm1', $trusted), 250, 'a message relayed by an MSSanté operator');
ok(until_ok(sub { stored('jean.dupont') == 1 && notices() == 1 }, 20), 'stored, and one notice sent')
    or diag Sandbox::tail($dc->{log});
my ($note) = notices();
like($note, qr/^ARGS -i -f notices\@a\.mssante\.test -- jean\.notif\@perso\.test$/m,
     'to the notification address, from the configured sender');
like($note, qr/a re\xc3\xa7u 1 nouveau message\./, 'it says one new message');
like($note, qr{https://webmail\.a\.mssante\.test/}, 'with the webmail link');
is(join(',', grep { index($note, $_) >= 0 } qw(dr.secret Secret Resultats IRM Martin CONFIDENTIEL tumeur bilan-patient pdf m1)),
   '', 'no sender, subject, body word or attachment name in the notice');

# 2. A burst: ten messages, no new notice; later, one notice counts them all.
send_msg('jean.dupont@a.mssante.test', 'm2', $trusted, $smime);
for my $i (3 .. 10) { send_msg('jean.dupont@a.mssante.test', "m$i", $trusted) }
ok(until_ok(sub { stored('jean.dupont') == 10 }, 30), 'nine more stored');
is(decided(), 1, 'within the interval: no other notice');
rewind();
send_msg('jean.dupont@a.mssante.test', 'm11', $trusted);
ok(until_ok(sub { notices() == 2 }, 20), 'the interval over, the next message brings a notice');
like((notices())[1], qr/a re\xc3\xa7u 10 nouveaux messages\..*has received 10 new messages/s,
     'counting the nine held back and this one');

# 3. Mail of our own users, unverified or forged verdicts: no notice unless the BAL asks for local mail.
rewind();
send_msg('jean.dupont@a.mssante.test', 'l1', 'X-MSSante-Trust: local');
send_msg('jean.dupont@a.mssante.test', 'u1');
send_msg('jean.dupont@a.mssante.test', 'f1', $trusted, $trusted);
ok(until_ok(sub { stored('jean.dupont') == 14 }, 30), 'local, unverified and doubly-marked mail stored');
is(decided(), 2, 'and no notice for them');
($rc, undef, $err) = $sb->command('', $sb->bin('mssante-admin'), '-c', $conf, qw(bal set jean.dupont@a.mssante.test --notify-local oui));
is($rc, 0, 'bal set --notify-local oui') or diag $err;
send_msg('jean.dupont@a.mssante.test', 'l2', 'X-MSSante-Trust: local');
ok(until_ok(sub { notices() == 3 }, 20), 'a BAL that asks for local mail: a notice for it');

# Marks, as a mail client sees them.
my $imap = $sb->imap($dc->{imap_port}, 'jean.dupont@a.mssante.test', 'Mot-de-passe-1');
ok($imap->login_ok, 'IMAP login') or diag $imap->login_text;
sub flags { $imap->keywords('INBOX', "Resultats-IRM-Martin-$_[0]") // 'not found' }
is(flags('m1'), '$MSSante', 'relayed by an MSSanté operator: $MSSante');
is(flags('m2'), '$MSSante $SMIME-Encrypted $SMIME-Signed', 'signed and encrypted too: the S/MIME keywords');
is(flags('l1') . '|' . flags('u1') . '|' . flags('f1'), '||', 'local, unverified, doubly-marked: no keyword');
$imap->logout;

# 4. A notification address the sendmail refuses; a BAL with none.
is(send_msg('anne.martin@a.mssante.test', 'a1', $trusted), 250, 'a message to a BAL whose notice fails');
ok(until_ok(sub { stored('anne.martin') == 1 && Sandbox::slurp($dc->{log}) =~ /the notice to fail\@perso\.test was not sent: .*exit 75/ }, 60),
   'delivered all the same, the failure logged') or diag Sandbox::tail($dc->{log});
send_msg('paul.durand@a.mssante.test', 'p1', $trusted);
ok(until_ok(sub { stored('paul.durand') == 1 }, 20), 'a BAL without a notification address: delivered');
ok($sb->postqueue_empty($pf, 30), 'nothing left in the queue');
is(scalar(() = Sandbox::slurp($pf->{maillog}) =~ /status=sent/g), 17, 'every message delivered once');
is(scalar(notices()), 3, 'three notices in all');
unlike(Sandbox::slurp($dc->{log}), qr/Resultats|CONFIDENTIEL|dr\.secret/, 'Dovecot\'s log holds nothing of the messages');
my @reports = $sb->sanitizer_reports;
is(scalar @reports, 0, 'no sanitizer report from the plugin') or diag @reports;
done_testing;
