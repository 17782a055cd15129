#!/usr/bin/perl
# liste-blanche fetch against a local HTTPS server with a test IGC-Santé
# certificate: install, conditional GET, refusal of a tampered list (the
# installed one stays), TLS and HTTP failures (nothing changes).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Compare qw(compare);
use Test::More;
use Time::HiRes qw(sleep time);
use Sandbox;
use ListeBlanche;

my $sb = Sandbox->new;
my $dir = $sb->dir;
my $pki = $sb->pki;
my $web = "$dir/www";
mkdir $web;
my $signer = $sb->issue(kind => 'smime', cn => 'alb.mssante.test', o => 'GIE TEST', email => 'alb@mssante.test');
my @entries = (['a.mssante.test', 'CN=mx.a.mssante.test,OU=1,O=A,C=FR']);
my $good = ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $signer, "$dir/good.xml");
Sandbox::write_file("$web/listeblanchemssante.xml", Sandbox::slurp($good));
utime time - 3600, time - 3600, "$web/listeblanchemssante.xml";

my $https = $sb->https_server($web);
my $port = $https->{port};
ok($port, 'HTTPS server started');
my $url = "https://localhost:$port/listeblanchemssante.xml";

my $installed = "$dir/state/listeblanche.xml";
mkdir "$dir/state";
my $conf = Sandbox::write_file("$dir/mssante.conf",
    "whitelist_file = $installed\nwhitelist_trust_anchors = $pki->{bundle}\nwhitelist_url = $url\n");

sub fetch {
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $sb->bin('liste-blanche'), '-c', $conf, @_, 'fetch';
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}
sub leftovers { my @f = glob "$dir/state/listeblanche.xml.*"; scalar @f }

my ($rc, $out) = fetch();
is($rc, 0, 'first fetch installs the list') or diag $out;
like($out, qr/^installed \Q$installed\E: generated 2026-11-20T10:00:00Z, 1 entries, 1 domains/m, 'and says what it installed');
is(compare($installed, $good), 0, 'installed file is the signed list, byte for byte');
is((stat $installed)[2] & 07777, 0644, 'installed file is readable by the milter user');
is((stat $installed)[9], (stat "$web/listeblanchemssante.xml")[9], 'it carries the server\'s Last-Modified date');

($rc, $out) = fetch();
ok($rc == 0 && $out =~ /unchanged since the installed copy \(HTTP 304\)/, 'second fetch: conditional GET, 304, nothing done')
    or diag $out;
like(Sandbox::slurp($https->{log}), qr/"GET \/listeblanchemssante\.xml HTTP\/1\.1" 304/, 'the server answered 304');
($rc, $out) = fetch('--force');
ok($rc == 0 && $out =~ /^installed /m, '--force downloads again');

# A tampered list on the server: refused, the installed list stays.
(my $t = Sandbox::slurp($good)) =~ s{<Nom>a\.mssante\.test</Nom>}{<Nom>z.mssante.test</Nom>};
Sandbox::write_file("$web/listeblanchemssante.xml", $t);
($rc, $out) = fetch();
is($rc, 1, 'tampered download: exit 1');
like($out, qr/downloaded list REFUSED: .*bad signature.*installed list unchanged/, 'says it was refused and why');
is(compare($installed, $good), 0, 'the installed list is unchanged');
is(leftovers(), 0, 'no temporary file left behind');

# The server's certificate is not from the configured CAs: nothing downloaded.
my $other = "$dir/other";
mkdir $other;
Sandbox::run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30',
    '-keyout', "$other/ca.key", '-out', "$other/ca.pem", '-subj', '/CN=Some Public CA');
($rc, $out) = fetch('-o', "whitelist_https_ca=$other/ca.pem", '--force');
ok($rc == 1 && $out =~ /download of .* failed: .*(certificate|SSL)/i, 'untrusted HTTPS server: refused') or diag $out;
is(compare($installed, $good), 0, 'installed list unchanged');

($rc, $out) = fetch('-o', "whitelist_url=https://localhost:$port/missing.xml", '--force');
ok($rc == 1 && $out =~ /download of .* failed: .*404/, 'HTTP 404: exit 1 with the status') or diag $out;
($rc, $out) = fetch('-o', "whitelist_url=http://localhost:$port/listeblanchemssante.xml", '--force');
ok($rc == 1 && $out =~ /download of .* failed/, 'plain HTTP is not accepted') or diag $out;
is(compare($installed, $good), 0, 'installed list still unchanged');
is(leftovers(), 0, 'still no temporary file left behind');
done_testing;
