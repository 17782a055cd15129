package Browser;
# Browser - t/browser/portal.mjs (headless Chromium driven by playwright-core)
# run from Perl: its checks, narration and questions (a message from a
# contact mailbox, an IMAP login) go through callbacks.
#
#   my $done = Browser::run(cfg => {url, host, shots, scenario},
#                           ok => sub { my ($ok, $name, $diag) = @_ },
#                           say => sub { my ($text) = @_ },
#                           answer => { mail => sub { my ($need) = @_; {...} }, ... });
use strict;
use warnings;
use Carp;
use FindBin;
use IPC::Open2;
use JSON::PP;

our $DIR = "$FindBin::Bin/browser";
$DIR = "$FindBin::Bin/../t/browser" unless -d $DIR;

# missing - why the browser cannot run here, or undef
sub missing {
    return "playwright-core is not installed in $DIR (sh mk/deps.sh installs it)"
        unless -e "$DIR/node_modules/playwright-core/package.json";
    return '/usr/bin/chromium is missing (Debian package chromium, mk/deps.sh)' unless -x '/usr/bin/chromium';
    return;
}

# run - the scenario to its end (true) or not (false); dies after $o{timeout} s (600)
sub run {
    my (%o) = @_;
    my $pid = open2(my $from, my $to, 'node', "$DIR/portal.mjs");
    $to->autoflush(1);
    my $json = JSON::PP->new->canonical;
    print $to $json->encode({ chromium => '/usr/bin/chromium', %{ $o{cfg} } }), "\n";
    my $done = 0;
    local $SIG{ALRM} = sub { kill 'TERM', $pid; die "the browser scenario took more than " . ($o{timeout} || 600) . " s\n" };
    alarm($o{timeout} || 600);
    while (defined(my $line = <$from>)) {
        my $m = eval { $json->decode($line) } or do { $o{say}->("browser: $line"); next };
        if (exists $m->{ok}) {
            $o{ok}->($m->{ok}, $m->{name}, $m->{diag});
        } elsif ($m->{say}) {
            $o{say}->($m->{say});
        } elsif ($m->{need}) {
            my $h = $o{answer}{ $m->{need} } or croak "the browser asks for $m->{need}";
            print $to $json->encode($h->($m)), "\n";
        } elsif ($m->{done}) {
            $done = 1;
            last;
        }
    }
    alarm 0;
    waitpid $pid, 0;
    return $done;
}

1;
