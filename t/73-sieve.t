#!/usr/bin/perl
# Out-of-office and filters set over ManageSieve, with the real Postfix,
# milters and Dovecot of two operators (t/lib/Demo.pm) and the shipped
# dovecot-sieve.conf at both: Dr MARTIN at B uploads a script with a
# ManageSieve client spoken here; a colleague at A gets one reply per period;
# a patient, a machine message (IHE_XDM.ZIP attachment or XDM subject) and an
# Auto-Submitted message get none (the guard, mssante-guard.sieve, or
# Pigeonhole itself); a redirect to a colleague at A arrives, one to gmail
# comes back to her as a bounce that says why. Replies, redirects and the
# new-mail notice leave through Postfix's sendmail (non_smtpd_milters); the
# notice passes milter-whitelist to an address outside the trust space.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep time);
use Sandbox;
use Demo;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $w = Demo::world($sb, enrol => [qw(A B)], services => 1,
                    transport => { 'perso.test' => 'discard:', 'bounce.test' => 'error:5.1.1 mailbox unavailable' });
my ($a, $b, $p) = @{ $w->{op} }{qw(A B P)};
my $INS = $Demo::INS;

# managesieve - one ManageSieve session: AUTHENTICATE PLAIN, then each
# command (a script is sent as a literal); returns the server's last answers
sub managesieve {
    my ($port, $user, $pass, @cmds) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
        or die "ManageSieve connect: $!";
    my $answer = sub {
        my $t = '';
        while (defined(my $l = <$s>)) { $t .= $l; last if $l =~ /^(OK|NO|BYE)\b/ }
        return $t;
    };
    my @out = ($answer->());
    for my $c (['AUTHENTICATE "PLAIN" "' . encode_base64("\0$user\0$pass", '') . '"'], @cmds) {
        my ($line, $literal) = @$c;
        print $s defined $literal ? "$line {" . length($literal) . "+}\r\n$literal\r\n" : "$line\r\n";
        push @out, $answer->();
    }
    print $s "LOGOUT\r\n";
    close $s;
    return @out;
}

my $script = <<'EOF';
require ["vacation"];
if header :contains "Subject" "Pour Dr DUPONT" { redirect "jean.dupont@a.mssante.test"; stop; }
if header :contains "Subject" "Pour gmail" { redirect "x@gmail.com"; stop; }
vacation :days 1 :subject "Absence" "Je suis absente jusqu'au 15 ; ecrivez au secretariat.";
EOF
my @r = managesieve($b->{dc}{sieve_port}, $b->{user}, $b->{device},
                    ['PUTSCRIPT "absence"', $script], ['SETACTIVE "absence"'], ['LISTSCRIPTS']);
like($r[0], qr/^"SIEVE" "[^"]*vacation/m, 'ManageSieve offers vacation');
is(join('|', map { /^(OK|NO|BYE)/m ? $1 : '?' } @r[1 .. 3]), 'OK|OK|OK', 'login, PUTSCRIPT, SETACTIVE')
    or diag "@r";
like($r[4], qr/^"absence" ACTIVE/m, 'the script is active');

my ($rc, $err) = Demo::cmd($w, 'mssante-admin', '-c', $b->{conf}, qw(bal set), $b->{mail}, '--notification', 'marie@perso.test');
is($rc, 0, 'Dr MARTIN\'s notices go to marie@perso.test') or diag $err;

# from_a - a message from Dr DUPONT (submission at A, his device password)
sub from_a {
    my ($subject, %o) = @_;
    my ($rc, $t) = Sandbox::swaks($a->{addr}, $a->{pf}{submission_port}, auth => [$a->{user}, $a->{device}],
        from => $a->{mail}, to => [$b->{mail}], subject => $subject, %o);
    return $rc ? "refused: $t" : 'sent';
}
# decided - wait for Pigeonhole's word on a message from a sender (Dovecot B's log)
sub decided {
    my ($re, $n) = @_;
    my $end = time + 60;
    while (time < $end) {
        my $c = () = Sandbox::slurp($b->{dc}{log}) =~ /$re/g;
        return $c if $c >= $n;
        $sb->postqueue_empty($_->{pf}, 1) for $a, $b, $p;
        sleep 0.2;
    }
    return 0;
}
# until_sent - wait for a line of B's Postfix log
sub until_sent {
    my ($re) = @_;
    my $end = time + 60;
    until (Sandbox::slurp($b->{pf}{maillog}) =~ $re) {
        return 0 if time > $end;
        $sb->postqueue_empty($_->{pf}, 1) for $a, $b;
        sleep 0.2;
    }
    return 1;
}
my $auto = qr/discarding vacation response to auto-submitted message from <\Q$a->{mail}\E>/;

# 1. Machine and automatic messages first (vacation remembers whom it answered).
is(from_a('Resultat', headers => ['Auto-Submitted: auto-generated']), 'sent', 'an Auto-Submitted message');
is(decided($auto, 1), 1, 'no reply: Pigeonhole itself');
my $zip = Sandbox::write_file("$dir/IHE_XDM.ZIP", "PK\x03\x04 not a real archive");
is(from_a('Compte rendu structure', attach => [$zip, 'IHE_XDM.ZIP', 'application/zip']), 'sent',
   'a message carrying IHE_XDM.ZIP');
is(decided($auto, 2), 2, 'no reply: the guard marked it');
is(from_a('XDM/1.0/DDM+urn:oid:1.2.250.1.213.1.1.1.5'), 'sent', 'a message with an XDM subject');
is(decided($auto, 3), 3, 'no reply: the guard marked it');
my ($prc, $pt) = Sandbox::swaks($p->{addr}, $p->{pf}{submission_port}, from => "$INS\@patient.mssante.fr",
                                to => [$b->{mail}], subject => 'Question du patient');
is($prc, 0, 'a patient writes to Dr MARTIN') or diag $pt;
ok(decided(qr/discarding vacation response to auto-submitted message from <\Q$INS\E\@patient\.mssante\.fr>/, 1),
   'no reply to the patient: the guard marked it');

# Software: an APP BAL of B's own (mssante-admin rewrites the list at once) and one
# of the directory's (annuaire_bal; "mssante-admin app-senders" as after a sync);
# their mail comes in over LMTP here, as Postfix hands it to Dovecot.
my $list = "$dir/sieve-b/app-senders.sieve";
($rc, $err) = Demo::cmd($w, 'mssante-admin', '-c', $b->{conf}, qw(bal add robot@b.mssante.test --type APP --finess 330781196));
is($rc, 0, 'an APP BAL at B') or diag $err;
like(Sandbox::slurp($list), qr/^\s*"robot\@b\.mssante\.test"/m, 'bal add rewrote the list of APP senders');
$w->{pg}{psql}->("INSERT INTO annuaire_bal (address, bal_type, source, row_hash) VALUES "
                 . "('lab.auto\@a.mssante.test', 'APP', 'extraction', 'x'), ('dr.x\@a.mssante.test', 'PER', 'extraction', 'y')",
                 $sb->database($b->{db}));
($rc, my $out) = Demo::cmd($w, 'mssante-admin', '-c', $b->{conf}, 'app-senders');
is($out, "$list: 2 APP sender(s)\n", 'app-senders: ours and the directory\'s APP BALs, no other');
# lmtp - one message handed to Dovecot B over LMTP; the final reply line
sub lmtp {
    my ($from, $subject, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $b->{dc}{lmtp_port}, Timeout => 10)
        or die "LMTP connect: $!";
    my $last = '';
    my $say = sub { print $s "$_[0]\r\n" if defined $_[0]; while (defined(my $l = <$s>)) { $last = $l; last if $l =~ /^\d{3} / } };
    $say->(undef);
    $say->($_) for 'LHLO test.local', "MAIL FROM:<$from>", "RCPT TO:<$b->{mail}>", 'DATA';
    $say->(join("\r\n", "From: <$from>", "To: <$b->{mail}>", "Subject: $subject", @headers, '', 'Bonjour', '.'));
    print $s "QUIT\r\n";
    return $last =~ s/\s+$//r;
}
like(lmtp('robot@b.mssante.test', 'Accuse de reception', 'X-MSSante-Trust: local'), qr/^250 /, 'mail from B\'s APP BAL');
ok(decided(qr/discarding vacation response to auto-submitted message from <robot\@b\.mssante\.test>/, 1),
   'no reply to it: the APP list marked it');
like(lmtp('lab.auto@a.mssante.test', 'Resultat de laboratoire', 'X-MSSante-Trust: mssante; domain=a.mssante.test'),
     qr/^250 /, 'mail from the directory\'s APP BAL');
ok(decided(qr/discarding vacation response to auto-submitted message from <lab\.auto\@a\.mssante\.test>/, 1),
   'no reply to it either');

# 2. A colleague: one reply, then none within the period.
is(from_a('Avis sur un dossier'), 'sent', 'Dr DUPONT writes');
ok(Demo::imap_wait($w, 'A', $a->{user}, $a->{device}, 'INBOX', 'Absence'), 'the out-of-office reply reaches him at A');
is(from_a('Avis sur un dossier, suite'), 'sent', 'and writes again');
ok(decided(qr/discarded duplicate vacation response to <\Q$a->{mail}\E>/, 1), 'no second reply within the period');

# 3. Redirects: inside the trust space delivered; outside, a bounce to her that says why.
# (A redirect keeps the message's From:, and the receiving operator accepts from B only
# From: domains the liste blanche lists for B: here a message of B's own.)
my ($mrc, $mt) = Sandbox::swaks($b->{addr}, $b->{pf}{submission_port}, auth => [$b->{user}, $b->{device}],
    from => $b->{mail}, to => [$b->{mail}], subject => 'Pour Dr DUPONT: dossier 12');
is($mrc, 0, 'a message her script redirects to a colleague at A') or diag $mt;
ok(Demo::imap_wait($w, 'A', $a->{user}, $a->{device}, 'INBOX', 'Pour Dr DUPONT: dossier 12'), 'redirected, delivered at A');
is(from_a('Pour gmail: dossier 13'), 'sent', 'a message her script redirects to x@gmail.com');
my $bounce = Demo::imap_wait($w, 'B', $b->{user}, $b->{device}, 'INBOX', 'Undelivered Mail Returned to Sender');
ok($bounce, 'a bounce comes back to Dr MARTIN');
my $imap = $sb->imap($b->{dc}{imap_port}, $b->{user}, $b->{device});
my (undef, $btext) = $imap->cmd('SELECT INBOX') && $imap->cmd('SEARCH SUBJECT "Undelivered"');
my ($n) = $btext =~ /^\* SEARCH (\d+)/m;
my (undef, $full) = $imap->cmd("FETCH $n BODY.PEEK[]");
$imap->logout;
like($full, qr/outside the MSSante trust space/, 'the bounce says the recipient is outside the trust space');
like($full, qr/Pour gmail: dossier 13/, 'and holds the message: nothing lost');
unlike(Sandbox::slurp($b->{pf}{maillog}), qr/to=<x\@gmail\.com>.*status=sent/, 'nothing reached gmail');

# 4. The notice of the new mail, through Postfix and the milters, to an address outside the trust space.
ok($sb->postqueue_empty($b->{pf}, 30), 'B\'s queue empty');
like(Sandbox::slurp($b->{pf}{maillog}), qr/from=<notices\@b\.mssante\.test>.*\n(?:.*\n)*?.*to=<marie\@perso\.test>.*status=sent/,
     'a notice from notices@b.mssante.test passed milter-whitelist to marie@perso.test');
unlike(Sandbox::slurp($b->{wl}{log}), qr/reject.*marie\@perso\.test/, 'milter-whitelist refused no notice');
unlike(Sandbox::slurp($b->{dc}{log}), qr/mssante-notify: .* was not sent/, 'and the plugin saw every hand-over succeed');
is(scalar(() = Sandbox::slurp("$b->{sendmail}.log") =~ /: exit [1-9]/g), 0, 'every hand-over to sendmail succeeded');
# 5. A notification address that bounces: the message stays delivered, the notice bounces.
($rc, $err) = Demo::cmd($w, 'mssante-admin', '-c', $b->{conf}, qw(bal add cabinet@b.mssante.test --type ORG
    --finess 330781196 --owner marie.martin --service Cabinet --notification x@bounce.test));
is($rc, 0, 'a BAL whose notification address bounces') or diag $err;
my ($crc, $ct) = Sandbox::swaks($a->{addr}, $a->{pf}{submission_port}, auth => [$a->{user}, $a->{device}],
    from => $a->{mail}, to => ['cabinet@b.mssante.test'], subject => 'Pour le cabinet');
is($crc, 0, 'Dr DUPONT writes to it') or diag $ct;
my $stored = sub { my @f = glob "$b->{dc}{maildir}/b.mssante.test/cabinet/{new,cur}/*"; @f };
ok(until_sent(qr/to=<x\@bounce\.test>.*status=bounced/), 'its notice bounced');
is(scalar(my @in = $stored->()), 1, 'the message is in the BAL all the same');
ok($sb->postqueue_empty($b->{pf}, 30), 'and nothing waits in B\'s queue');

# Our verdict headers stay home (conf/postfix-main.cf's smtp_header_checks): A received
# replies and a redirect from B, and found no X-MSSante-Trust of B's to remove.
like(Sandbox::slurp($a->{wl}{log}), qr/inbound: mssante; domain=b\.mssante\.test/, 'A received mail from B');
unlike(Sandbox::slurp($a->{wl}{log}), qr/removed \d+ X-MSSante-Trust/, 'with no X-MSSante-Trust of B\'s in it');
my @reports = $sb->sanitizer_reports;
is(scalar @reports, 0, 'no sanitizer report') or diag @reports;
done_testing;
