#!/usr/bin/perl
# mssante-portal in a real browser: headless Chromium (Debian's, driven by
# playwright-core, t/browser/portal.mjs) through nginx with TLS, against the
# real Dovecot, Postfix and PostgreSQL of PortalWorld. Activation with the
# link read over IMAP from the contact mailbox, the app channel (QR code read
# by zbarimg, codes by oathtool) and the e-mail channel, each then used for an
# IMAP login; sign-out and sign-in; profile changes; a device added, used
# over IMAP, revoked and refused; a delegate added, opening the ORG BAL,
# removed and refused; a forgotten password. Each page is kept as a
# screenshot in $MSSANTE_BUILD/artifacts/portal/.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(remove_tree);
use Sandbox;
use Browser;
use OtpWorld;
use PortalWorld;

if (my $why = Browser::missing()) { BAIL_OUT($why) }

my $sb = Sandbox->new;
my $w = PortalWorld::setup($sb, contacts => [qw(marie anne claire)], conf => ['portal_rate_limit = 1000']);
my $dc = $w->{dovecot};
for my $u (['marie.curie', 'marie', 'Marie', 'CURIE'], ['anne.martin', 'anne', 'Anne', 'MARTIN']) {
    my ($rc, undef, $err) = PortalWorld::admin($w, 'account', 'add', $u->[0], '--activation', '--contact',
                                               "$u->[1]\@perso.test", '--first-name', $u->[2], '--last-name', $u->[3]);
    is($rc, 0, "$u->[0]: an account waiting for activation") or diag $err;
    ($rc, undef, $err) = PortalWorld::admin($w, 'bal', 'add', "$u->[0]\@a.mssante.test", '--owner', $u->[0],
                                            '--rpps-adeli', sprintf('1%010d', ++$w->{rpps}));
    is($rc, 0, "$u->[0]: its BAL") or diag $err;
}
my ($csecret, $ct) = PortalWorld::account($w, 'claire.simon', 'Claire-Mot-2-passe');
my ($rc, undef, $err) = PortalWorld::admin($w, 'bal', 'add', 'secretariat@a.mssante.test', '--type', 'ORG',
                                           '--owner', 'marie.curie', '--finess', '750000001');
is($rc, 0, 'the secretariat ORG BAL, marie its responsible') or diag $err;
my $cstep = int($ct / 30);
sub ccode { OtpWorld::next_code($csecret, \$cstep) }

# imap - a login: (ok, text)
sub imap {
    my ($user, $pass) = @_;
    my $i = $sb->imap($dc->{imap_port}, $user, $pass);
    my @r = ($i->login_ok ? 1 : 0, $i->login_text);
    $i->logout if $i->login_ok;
    return @r;
}
my %seen;    # the last message read in each contact mailbox
my %answer = (
    mail => sub {
        my ($n) = @_;
        my ($text, $num) = PortalWorld::mail($w, $n->{user}, $n->{subject}, 60, $seen{"$n->{user}/$n->{subject}"});
        $seen{"$n->{user}/$n->{subject}"} = $num if $num;
        return { text => $text // '' };
    },
    imap => sub { my ($n) = @_; my ($ok, $t) = imap($n->{user}, $n->{password}); return { ok => $ok, text => $t } },
    'imap-delegate' => sub {
        my ($n) = @_;
        my ($ok, $t) = imap($n->{user}, 'Claire-Mot-2-passe' . ccode());
        return { ok => $ok, text => $t };
    },
    # the e-mail channel over IMAP: the password alone mails a code, then password and code
    'imap-email' => sub {
        my ($n) = @_;
        my ($ok, $t) = imap($n->{user}, $n->{password});
        return { ok => 0, text => "password alone: $t" } unless $t =~ /A code was sent/;
        my ($text, $num) = PortalWorld::mail($w, $n->{contact}, 'Code de connexion', 60);
        my ($code) = ($text // '') =~ /MSSant\S* : (\d{6})/;
        ($ok, $t) = imap($n->{user}, $n->{password} . ($code // ''));
        return { ok => $ok, text => $t };
    },
);

my $shots = "$ENV{MSSANTE_BUILD}/artifacts/portal";
remove_tree($shots);
my $done = Browser::run(cfg => { url => $w->{url}, host => $PortalWorld::HOST, shots => $shots },
                        ok => sub { my ($ok, $name, $diag) = @_; ok($ok, "browser: $name") or diag $diag // '' },
                        say => sub { note $_[0] }, answer => \%answer);
ok($done, 'the browser scenario ran to its end');
my @png = glob "$shots/*.png";
cmp_ok(scalar @png, '>=', 12, 'a screenshot of each page kept (' . scalar(@png) . " in $shots)");
unlike(Sandbox::slurp($w->{portal}{log}), qr/Sanitizer|runtime error/, 'no sanitizer report from the portal');

done_testing;
