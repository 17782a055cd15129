package Smime;
# Smime - what the S/MIME tests share: a certificate store set up with
# mssante-smime, the independent tools that check our output (openssl cms,
# gpgsm) and messages signed by them.
use strict;
use warnings;
use Carp;
use MIME::Base64 qw(encode_base64 decode_base64);
use Sandbox;

# world - a migrated database, a test PKI with S/MIME certificates for
# alice@a (ours) and bob@b, carol@b (theirs), and a configuration.
#   conf => extra lines for mssante.conf
sub world {
    my ($sb, %o) = @_;
    my ($pg, $conf) = $sb->migrated;
    my %p;
    for (['alice', 'a', 'Alice MARTIN'], ['bob', 'b', 'Bob DURAND'], ['carol', 'b', 'Carol PETIT'],
         ['dan', 'c', 'Dan LEROY']) {
        my ($u, $d, $cn) = @$_;
        $p{$u} = $sb->issue(kind => 'smime', cn => $cn, o => "CH \U$d", email => "$u\@$d.mssante.test",
                            ca => 'personnes', name => "smime-$u");
        chmod 0600, $p{$u}{key};
        $p{$u}{email} = "$u\@$d.mssante.test";
    }
    my $dir = $sb->dir;
    mkdir "$dir/smime-spool";
    chmod 01777, "$dir/smime-spool";            # like /var/tmp: the milter's user writes there
    $conf = Sandbox::write_file("$dir/smime.conf", Sandbox::slurp($conf) . join '', map { "$_\n" }
        "smime_trust_anchors = " . $sb->pki->{bundle},
        "smime_spool_directory = $dir/smime-spool",
        "our_domains = a.mssante.test",
        "outbound_daemons = ORIGINATING",
        @{ $o{conf} || [] });
    return { pg => $pg, conf => $conf, p => \%p, sb => $sb };
}

# admin - run mssante-smime; returns (exit status, output)
sub admin {
    my ($w, @args) = @_;
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $w->{sb}->bin('mssante-smime'), '-c', $w->{conf}, @args;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

# tm - milter-smime -t over a message; returns (exit status, output, stderr)
sub tm {
    my ($w, $msg, @args) = @_;
    my $dir = $w->{sb}->dir;
    Sandbox::write_file("$dir/tm-in.eml", $msg);
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } $w->{sb}->bin('milter-smime'), '-t', '-c', $w->{conf}, @args;
    my $out = qx{$cmd < $dir/tm-in.eml 2>$dir/tm-err};
    return ($? >> 8, $out, Sandbox::slurp("$dir/tm-err"));
}

# ossl - openssl cms; returns (ok, output file content, stderr)
sub ossl {
    my ($sb, $in, @args) = @_;
    my $dir = $sb->dir;
    Sandbox::write_file("$dir/cms-in", $in);
    unlink "$dir/cms-out";
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } 'openssl', 'cms', '-in', "$dir/cms-in",
        '-out', "$dir/cms-out", @args;
    my $err = qx{$cmd 2>&1};
    my $ok = $? == 0;
    return ($ok, -e "$dir/cms-out" ? Sandbox::slurp("$dir/cms-out") : '', $err);
}

sub decrypt { my ($sb, $msg, $who) = @_; ossl($sb, $msg, '-decrypt', '-recip', $who->{cert}, '-inkey', $who->{key}) }
sub verify  { my ($sb, $msg) = @_; ossl($sb, $msg, '-verify', '-CAfile', $sb->pki->{bundle}) }

# body - the body of a message (after the first blank line)
sub body {
    my ($msg) = @_;
    my ($b) = $msg =~ /\r?\n\r?\n(.*)\z/s;
    return $b // '';
}

# header - the (unfolded) value of a header of the top part
sub header {
    my ($msg, $name) = @_;
    my ($h) = split /\r?\n\r?\n/, $msg, 2;
    $h =~ s/\r?\n[ \t]+/ /g;
    my @v = $h =~ /^\Q$name\E:[ \t]*(.*?)\r?$/mgi;
    return wantarray ? @v : $v[0];
}

# signed_parts - (content, signature DER) of a multipart/signed message,
# the content in canonical CRLF form as the signature covers it
sub signed_parts {
    my ($msg) = @_;
    my ($b) = header($msg, 'Content-Type') =~ /boundary="?([^";]+)"?/ or return;
    (my $m = $msg) =~ s/\r?\n/\r\n/g;
    my ($content) = $m =~ /\r\n--\Q$b\E\r\n(.*?)\r\n--\Q$b\E\r\n/s or return;
    my ($sigpart) = $m =~ /\r\n--\Q$b\E\r\n(?:.*?)\r\n--\Q$b\E\r\n(.*?)\r\n--\Q$b\E--/s or return;
    return ($content, decode_base64(body($sigpart)));
}

# attachment - the decoded bytes of the part whose filename is given
sub attachment {
    my ($entity, $name) = @_;
    (my $m = $entity) =~ s/\r\n/\n/g;
    my ($part) = $m =~ /filename="?\Q$name\E"?\n(?:[^\n]+\n)*\n(.*?)\n--/s or return;
    return decode_base64($part);
}

# gpgsm - a GnuPG home trusting the test root, with the given identities'
# keys; returns sub(@args) -> (exit status, stdout, stderr)
sub gpgsm {
    my ($sb, @who) = @_;
    my $home = $sb->dir . '/gnupg';
    unless (-d $home) {
        mkdir $home, 0700;
        Sandbox::write_file("$home/gpgsm.conf", "disable-crl-checks\ndisable-dirmngr\n");
        Sandbox::write_file("$home/gpg-agent.conf", "allow-loopback-pinentry\n");
        my $pki = $sb->pki;
        my ($fpr) = Sandbox::run('openssl', 'x509', '-in', $pki->{root}{cert}, '-noout', '-fingerprint', '-sha1') =~ /=(\S+)/;
        Sandbox::write_file("$home/trustlist.txt", "$fpr S relax\n");
        $sb->on_stop(gnupg => sub { system("GNUPGHOME=$home gpgconf --kill all >/dev/null 2>&1") });
    }
    my $run = sub {
        my ($stdin, @args) = @_;
        my $dir = $sb->dir;
        Sandbox::write_file("$dir/gpgsm-stdin", $stdin // '');
        my $cmd = join ' ', map { Sandbox::shell_quote($_) } 'gpgsm', '--batch', '--homedir', $home,
            '--pinentry-mode', 'loopback', '--passphrase-fd', '0', @args;
        my $out = qx{$cmd < $dir/gpgsm-stdin 2>$dir/gpgsm-err};
        return ($? >> 8, $out, Sandbox::slurp("$dir/gpgsm-err"));
    };
    my $pki = $sb->pki;
    $run->('', '--import', $pki->{root}{cert}, $pki->{personnes}{cert}, $pki->{organisations}{cert});
    for my $w (@who) {
        my $p12 = "$w->{key}.p12";
        # The agent starting up sometimes loses the loopback passphrase, and
        # gpgsm 2.2's PKCS#12 parser fails on some files ("error at bag.data")
        # depending on their random salt: try again with a fresh file.
        my ($rc, $err);
        for (1 .. 5) {
            # gpgsm 2.2 reads the classic PKCS#12 algorithms only.
            Sandbox::run('openssl', 'pkcs12', '-export', '-in', $w->{cert}, '-inkey', $w->{key}, '-passout', 'pass:test',
                         '-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-out', $p12);
            ($rc, undef, $err) = $run->("test\n", '--import', $p12);
            last if $rc == 0 && $err =~ /secret keys imported: 1|secret keys unchanged: 1/;
        }
        croak "gpgsm cannot import $p12:\n$err" if $rc;
    }
    return $run;
}

# gpgsm_verify - check a multipart/signed message with gpgsm; (ok, stderr)
sub gpgsm_verify {
    my ($sb, $g, $msg) = @_;
    my ($content, $sig) = signed_parts($msg) or return (0, 'not a multipart/signed message');
    my $dir = $sb->dir;
    Sandbox::write_file("$dir/g-content", $content);
    Sandbox::write_file("$dir/g-sig", $sig);
    my ($rc, undef, $err) = $g->('', '--verify', "$dir/g-sig", "$dir/g-content");
    return ($rc == 0 && $err =~ /Good signature/, $err);
}

# gpgsm_decrypt - decrypt an application/pkcs7-mime message; (ok, entity, stderr)
sub gpgsm_decrypt {
    my ($sb, $g, $msg) = @_;
    my $dir = $sb->dir;
    Sandbox::write_file("$dir/g-p7m", decode_base64(body($msg)));
    my ($rc, $out, $err) = $g->("test\n", '--decrypt', "$dir/g-p7m");
    return ($rc == 0, $out, $err);
}

# send - one message file over SMTP with swaks; (exit status, transcript)
sub send {
    my ($host, $port, $from, $to, $file, @more) = @_;
    my $cmd = join ' ', map { Sandbox::shell_quote($_) } 'swaks', '--server', $host, '--port', $port,
        '--from', $from, '--to', join(',', @$to), '--data', "\@$file", '--timeout', '120', @more;
    my $t = qx{$cmd 2>&1};
    return ($? >> 8, $t);
}

# maildir - the raw messages of a Dovecot user, oldest first
sub maildir {
    my ($dc, $user) = @_;
    my ($local, $domain) = split /\@/, $user;
    # in delivery order: Dovecot names each file <seconds>.M<microseconds>P<pid>...,
    # numbers to compare as numbers (two deliveries in one second sort wrong as text)
    my @f = map { $_->[2] } sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] }
        map { m{/(\d+)\.M(\d+)P[^/]*$} or die "$_: not a Dovecot maildir file name"; [$1, $2, $_] }
        glob("$dc->{maildir}/$domain/$local/new/* $dc->{maildir}/$domain/$local/cur/*");
    return map { Sandbox::slurp($_) } @f;
}

# multipart_signed - a message around a content and a detached DER signature
sub multipart_signed {
    my ($headers, $content, $sig) = @_;
    my $b = 'sig-' . int(rand(1e9));
    (my $c = $content) =~ s/\r?\n/\r\n/g;
    return $headers . "MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
        . "protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"$b\"\r\n\r\n"
        . "--$b\r\n$c\r\n--$b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        . "Content-Transfer-Encoding: base64\r\n\r\n" . join("\r\n", split /\n/, encode_base64($sig))
        . "\r\n--$b--\r\n";
}

1;
