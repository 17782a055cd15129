#!/usr/bin/perl
# notify - LMTP delivery into one BAL with the new-mail notice plugin against
# the same without it, side by side in one run: 2,000 messages relayed by an
# MSSanté operator (X-MSSante-Trust), 10 LMTP sessions (smtp-source -L), best
# of two rounds each; and how many notices that burst gave (the interval
# holds them to one).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time);
use Sandbox;

my $MESSAGES = $ENV{BENCH_MESSAGES} || 2000;
my $sb = Sandbox->new(keep => $ENV{MSSANTE_KEEP});
my $dir = $sb->dir;
mkdir "$dir/notices";
chown scalar(getpwnam('nobody')), -1, "$dir/notices";
Sandbox::write_file("$dir/sendmail", "#!/bin/sh\ncat > $dir/notices/\$\$\n", 0755);
my $snippet = Sandbox::slurp("$FindBin::Bin/../conf/dovecot-notify.conf");
$snippet =~ s/^(\s*mssante_notify_sender =).*$/$1 notices\@a.mssante.test/m;
$snippet =~ s/^(\s*mssante_notify_sendmail =).*$/$1 $dir\/sendmail/m;
my %dc = (
    without => $sb->dovecot(name => 'without', users => { 'jean@a.mssante.test' => 'x' }),
    with    => $sb->dovecot(name => 'with', users => { 'jean@a.mssante.test' => 'x' },
                            plugins => [$sb->build . '/dovecot/lib96_mssante_notify_plugin.so'],
                            extra => $snippet . "plugin {\n  mssante_notify = jean\@perso.test\n}\n"),
);
Sandbox::write_file("$dir/msg", "From: <dr.x\@b.mssante.test>\nTo: <jean\@a.mssante.test>\nSubject: bench\n"
    . "X-MSSante-Trust: mssante; domain=b.mssante.test; operator=\"CN=mx.b.mssante.test,C=FR\"\n\n"
    . ('x' x 76 . "\n") x 26);
my %rate;
for my $round (1 .. 2) {
    for my $k (qw(without with)) {
        my $t = time;
        my $r = qx{smtp-source -L -s 10 -m $MESSAGES -F $dir/msg -f dr.x\@b.mssante.test -t jean\@a.mssante.test 127.0.0.1:$dc{$k}{lmtp_port} 2>&1};
        my $dt = time - $t;
        die "bench: smtp-source failed ($k): $r\n" if $?;
        $rate{$k} = $MESSAGES / $dt if !$rate{$k} || $MESSAGES / $dt > $rate{$k};
    }
}
for my $k (keys %dc) {
    my $n = () = glob "$dc{$k}{maildir}/a.mssante.test/jean/new/*";
    die "bench: $k: $n of " . 2 * $MESSAGES . " messages stored\n" if $n != 2 * $MESSAGES;
}
my $notices = () = Sandbox::slurp($dc{with}{log}) =~ /mssante-notify: notice of/g;
printf "LMTP delivery, %d msgs, 10 sessions, with the notice plugin vs without (best of 2)\t%.0f msg/s\t%.0f msg/s (no plugin)\t-\t>= 0.95\n",
    $MESSAGES, $rate{with}, $rate{without};
printf "notices for a burst of %d messages (interval 15 min)\t%d\t-\t-\t1\n", 2 * $MESSAGES, $notices;
