#!/usr/bin/perl
# patient - LMTP delivery rate of patient mail into one mailbox, with the
# patient-folder plugin (every message is filed) and without it (same
# Dovecot configuration, Sieve loaded in both). Rounds alternate between
# the two servers in short runs so that both see the same machine load.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use IO::Socket::INET;
use Time::HiRes qw(time);
use Sandbox;

my $N = $ENV{BENCH_PATIENT_MESSAGES} || 2000;
my $ROUNDS = 20;
my $sb = Sandbox->new;
my $plugin = $sb->build . '/dovecot/lib95_mssante_patient_folder_plugin.so';
my $user = 'dr.bench@a.mssante.test';
my %dc;
# without: plain delivery into INBOX; folder: Dovecot itself files into a
# folder (+detail addressing), what the plugin's filing costs at least;
# with: the plugin files every message.
my %plugins = (without => 'sieve', folder => 'sieve', with => 'sieve mssante_patient_folder');
my %rcpt = (without => $user, folder => 'dr.bench+Patients@a.mssante.test', with => $user);
for my $k (keys %plugins) {
    my $extra = "protocol lmtp {\n  mail_plugins = \$mail_plugins $plugins{$k}\n}\n";
    $extra .= "lmtp_save_to_detail_mailbox = yes\nrecipient_delimiter = +\nlda_mailbox_autocreate = yes\n"
        if $k eq 'folder';
    $dc{$k} = $sb->dovecot(name => "dc-$k", plugins => [$plugin], users => { $user => 'x' }, extra => $extra);
}

my $msg = join "\r\n", 'X-MSSante-Trust: mssante; domain=patient.mssante.fr; operator="CN=mx.cnam.test,O=CNAM,C=FR"',
    'From: <284057512345678@patient.mssante.fr>', "To: <$user>", 'Subject: question',
    'Message-ID: <%d@bench>', '', ('Bonjour docteur, une question sur mon traitement.') x 20, '.', '';

# deliver - n messages over one LMTP session; returns seconds
sub deliver {
    my ($k, $n, $base) = @_;
    my $port = $dc{$k}{lmtp_port};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die "LMTP: $!\n";
    my $reply = sub { my $l; do { $l = <$s> // die "LMTP closed\n" } while $l =~ /^\d{3}-/; $l };
    $reply->();
    print $s "LHLO bench\r\n";
    $reply->();
    my $t = time;
    for my $i (1 .. $n) {
        print $s "MAIL FROM:<284057512345678\@patient.mssante.fr>\r\nRCPT TO:<$rcpt{$k}>\r\nDATA\r\n";
        $reply->() for 1 .. 3;
        printf $s $msg, $base + $i;
        my $r = $reply->();
        die "LMTP refused message $i: $r" unless $r =~ /^250/;
    }
    my $elapsed = time - $t;
    print $s "QUIT\r\n";
    close $s;
    return $elapsed;
}

my %secs = map { $_ => 0 } keys %dc;
for my $round (1 .. $ROUNDS) {
    my @order = sort keys %dc;
    push @order, shift @order for 1 .. $round % @order;
    $secs{$_} += deliver($_, $N / $ROUNDS, $round * $N) for @order;
}
# The plugin must really have filed them, or the comparison means nothing.
my $folder = "$dc{with}{maildir}/a.mssante.test/dr.bench/.&AMk-changes Patients/new";
my $filed = () = glob("'$folder/*'");
die "patient: $filed of $N messages in the patient folder\n" if $filed != $N;

printf "LMTP delivery of %d patient messages into one mailbox: with the plugin vs without (INBOX)\t%.0f msg/s\t%.0f msg/s\t-\t>= 0.95 x without\n",
    $N, $N / $secs{with}, $N / $secs{without};
printf "the same vs Dovecot filing into a folder by itself (+detail)\t%.0f msg/s\t%.0f msg/s\t-\t-\n",
    $N / $secs{with}, $N / $secs{folder};
