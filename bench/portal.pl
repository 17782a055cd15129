#!/usr/bin/perl
# portal - mssante-portal under load, in the sandbox of PortalWorld (the
# real Dovecot with mssante_otp, PostgreSQL), measured in one run:
#   - sign-in (password page, then code page: two answers of the passdb
#     through Dovecot's auth service) against an IMAP LOGIN with the same
#     password + code (one answer of the same passdb), one at a time;
#   - the account page (a PostgreSQL query) under 50 signed-in sessions at
#     once, each a client of its own with keep-alive.
# HTTP goes straight to the portal's port (the proxy's TLS is nginx's cost,
# not the portal's), each client naming an address of its own in X-Real-IP.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);
use Sandbox;
use OtpWorld;
use PortalWorld;

my $N = $ENV{BENCH_PORTAL_ACCOUNTS} || 100;
my $SESSIONS = 50;
my $SECS = $ENV{BENCH_PORTAL_SECONDS} || 10;
my $sb = Sandbox->new;
my $w = PortalWorld::setup($sb, conf => ['portal_rate_limit = 100000', 'portal_threads = 8']);
my $acct = OtpWorld::accounts($sb, $w->{conf}, $N);
my $port = $w->{portal_port};

# One keep-alive HTTP/1.1 connection to the portal, with its cookie and form token.
package Client {
    sub new {
        my ($class, $ip) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
            or die "connect to the portal: $!";
        return bless { s => $s, ip => $ip, cookie => '', csrf => '' }, $class;
    }
    # req - one request; (status, location, body)
    sub req {
        my ($self, $method, $path, %form) = @_;
        $form{csrf} = $self->{csrf} if $method eq 'POST';
        my $body = join '&', map { "$_=" . ($form{$_} =~ s/([^A-Za-z0-9._-])/sprintf '%%%02X', ord $1/ger) } sort keys %form;
        my $s = $self->{s};
        print $s "$method $path HTTP/1.1\r\nHost: $PortalWorld::HOST\r\nX-Real-IP: $self->{ip}\r\n"
            . ($self->{cookie} ? "Cookie: __Host-mssante=$self->{cookie}\r\n" : '')
            . ($method eq 'POST' ? "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
               . length($body) . "\r\n" : '') . "\r\n" . ($method eq 'POST' ? $body : '');
        my $status = <$s> // die "the portal closed the connection";
        my ($code) = $status =~ /^HTTP\/1\.1 (\d+)/;
        my ($len, $loc) = (0, undef);
        while (defined(my $h = <$s>)) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length: (\d+)/i;
            $loc = $1 if $h =~ /^Location: (\S+)/i;
            $self->{cookie} = $1 if $h =~ /^Set-Cookie: __Host-mssante=([0-9a-f]{64})/i;
        }
        my $page = '';
        read($s, $page, $len) if $len;
        $self->{csrf} = $1 if $page =~ /name="csrf" value="([0-9a-f]{64})"/;
        return ($code, $loc, $page);
    }
}

sub pct { my ($p, @v) = @_; my @s = sort { $a <=> $b } @v; return $s[int($p / 100 * $#s)] }

# sign_in - through the two pages; ms, and the client signed in
sub sign_in {
    my ($a, $ip) = @_;
    my $c = Client->new($ip);
    $c->req('GET', '/connexion');
    my $code = OtpWorld::code($a->{secret});            # outside the measured time
    my $t = time;
    my (undef, $loc) = $c->req('POST', '/connexion', login => $a->{login}, password => $OtpWorld::PASSWORD);
    die "$a->{login}: the password page answered $loc" unless ($loc // '') eq '/code';
    (undef, $loc) = $c->req('POST', '/code', code => $code);
    my $ms = (time - $t) * 1000;
    die "$a->{login}: the code page answered " . ($loc // 'no redirect') unless ($loc // '') eq '/compte';
    $c->req('GET', '/compte');                          # the token of the signed-in session
    return ($ms, $c);
}

# imap_ms - an IMAP LOGIN of the same account with password + code
sub imap_ms {
    my ($a) = @_;
    my $code = OtpWorld::code($a->{secret});
    my $t = time;
    my $imap = $sb->imap($w->{dovecot}{imap_port}, $a->{login}, $OtpWorld::PASSWORD . $code);
    die "IMAP login refused for $a->{login}: " . $imap->login_text unless $imap->login_ok;
    $imap->logout;
    return (time - $t) * 1000;
}

# Half the accounts sign in to the portal, the other half log in over IMAP
# (each code is good once: one use per account).
my (@portal, @imap, @clients);
for my $i (0 .. $#$acct) {
    if ($i % 2) {
        push @imap, imap_ms($acct->[$i]);
    } else {
        my ($ms, $c) = sign_in($acct->[$i], "10.0.0." . ($i % 250 + 1));
        push @portal, $ms;
        push @clients, $c if @clients < $SESSIONS;
    }
}
printf "sign-in p95 (password page + code page; p50 %.1f ms) vs IMAP LOGIN password+code (p50 %.1f ms)\t%.1f ms\t%.1f ms\t-\t<= 1.5x\n",
    pct(50, @portal), pct(50, @imap), pct(95, @portal), pct(95, @imap);

# 50 signed-in sessions at once, each reading its account page for $SECS.
my $dir = $sb->dir;
my @kids;
for my $k (0 .. $#clients) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $c = $clients[$k];
        my ($end, @ms) = (time + $SECS);
        while (time < $end) {
            my $t = time;
            my ($code) = $c->req('GET', '/compte');
            die "session $k: /compte answered $code" unless $code == 200;
            push @ms, (time - $t) * 1000;
        }
        Sandbox::write_file("$dir/lat.$k", join("\n", @ms) . "\n");
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid $_, 0 for @kids;
my @lat = map { split /\n/, Sandbox::slurp($_) } glob "$dir/lat.*";
die "no page measured" unless @lat;
printf "account page p95 under %d sessions (p50 %.1f ms, %d pages/s)\t%.1f ms\t-\t-\t< 20 ms\n",
    scalar @clients, pct(50, @lat), @lat / $SECS, pct(95, @lat);
