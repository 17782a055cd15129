package Demo;
# Demo - two MSSanté operators on one machine, wired through every part,
# and the scripted day that "make demo" plays on them.
#
#   operator A  a.mssante.test       Postfix 127.0.0.2, Dovecot, both milters, OTP, patient folder
#   operator B  b.mssante.test       Postfix 127.0.0.3, the same
#   CNAM        patient.mssante.fr   Postfix 127.0.0.4 (the patients' side, no add-on)
#   operator X  x.mssante.test       127.0.0.5: a valid IGC-Santé certificate, not listed
#
# One PostgreSQL, a database per operator (schema migrated by mssante-db;
# accounts and BALs made by mssante-admin import of a request form, read by
# Postfix's pgsql maps and Dovecot's SQL userdb; S/MIME certificate store, OTP
# state; A's also holds the annuaire loaded by annuaire-sync from a generated
# extraction),
# the liste blanche signed by a test key of the demo PKI, served over HTTPS
# and installed by "liste-blanche fetch".
#
#   my $w = Demo::world($sb, say => sub { print @_ }, break => 'trust-anchors');
#   my @rows = Demo::day($w, say => ...);   # [step, expected, observed, ok]
use strict;
use warnings;
use utf8;
use Carp;
use Encode qw(encode_utf8);
use Time::HiRes qw(sleep time);
use Sandbox;
use Browser;
use PortalWorld;
use ListeBlanche;
use Extraction;
use Smime;

our $FOLDER = 'Échanges Patients';
our $FOLDER7 = '&AMk-changes Patients';            # its IMAP name (modified UTF-7)
our $INS = '284057512345678';
our @BREAKS = qw(trust-anchors);

my $TLS_CIPHERS = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256';

# The new doctor of the portal step.
our $NEWCOMER = { login => 'sophie.bernard', contact => 'sophie', first => 'Sophie', last => 'BERNARD',
                  password => 'Sophie-Mot-2-passe' };

# stage - run one part of the set-up; on failure die naming the part
sub stage {
    my ($w, $what, $code) = @_;
    $w->{say}->("  - $what\n");
    my @r = eval { $code->() };
    return @r unless $@;
    (my $why = $@) =~ s/\s+at \S+ line \d+\.?\n?\z//;
    die { stage => $what, why => $why };
}

# cmd - run one of our commands; (exit status, output)
sub cmd {
    my ($w, $bin, @args) = @_;
    my $line = join ' ', map { Sandbox::shell_quote($_) } $w->{sb}->bin($bin), @args;
    utf8::encode($line) if utf8::is_utf8($line);
    my $out = qx{$line 2>&1};
    utf8::decode($out);
    return ($? >> 8, $out);
}

# must - cmd that must succeed
sub must {
    my ($w, $bin, @args) = @_;
    my ($rc, $out) = cmd($w, $bin, @args);
    croak "$bin: exit $rc\n$out" if $rc;
    return $out;
}

# world - start everything; returns the world (see the keys below)
#   say => sub { print }, break => one of @BREAKS,
#   enrol => [operators whose doctor gets an app and a device password now] (default B),
#   services => 1: the mailbox services at A and B (the shipped dovecot-sieve.conf
#   with its guard and ManageSieve, the notice plugin; replies, redirects and notices
#   through Postfix's sendmail), transport => {domain => nexthop} added at A and B
sub world {
    my ($sb, %o) = @_;
    my $w = { sb => $sb, dir => $sb->dir, say => $o{say} || sub { } };
    my $dir = $w->{dir};
    my $t0 = time;
    $w->{op} = {
        A => { addr => '127.0.0.2', domain => 'a.mssante.test', ou => '318310021300028', o => 'OPERATEUR A',
               user => 'jean.dupont', first => 'Jean', last => 'DUPONT' },
        B => { addr => '127.0.0.3', domain => 'b.mssante.test', ou => '318310021300036', o => 'OPERATEUR B',
               user => 'marie.martin', first => 'Marie', last => 'MARTIN' },
        P => { addr => '127.0.0.4', domain => 'patient.mssante.fr', ou => '180035024000011', o => 'CNAM' },
        X => { addr => '127.0.0.5', domain => 'x.mssante.test', ou => '318310021300044', o => 'OPERATEUR X' },
    };
    my $op = $w->{op};
    my $pki;
    stage($w, 'demo PKI shaped like IGC-Santé: operator server certificates, S/MIME certificates of both doctors', sub {
        $pki = $w->{pki} = $sb->pki;
        for my $k (sort keys %$op) {
            my $o = $op->{$k};
            $o->{cert} = $sb->issue(kind => 'server', cn => "mx.$o->{domain}", ou => $o->{ou}, o => $o->{o},
                                    st => 'Gironde (33)');
        }
        for my $k (qw(A B)) {
            my $o = $op->{$k};
            $o->{mail} = "$o->{user}\@$o->{domain}";
            $o->{smime} = $sb->issue(kind => 'smime', ca => 'personnes', cn => "$o->{last} $o->{first}",
                                     o => $o->{o}, email => $o->{mail}, name => "smime-$o->{user}");
        }
        $w->{signer} = $sb->issue(kind => 'smime', cn => 'listeblanche.mssante.test', o => 'GIE TEST',
                                  email => 'listeblanche@mssante.test');
        # The file our tools trust: a copy of the CA bundle (Postfix's TLS keeps its own).
        $w->{anchors} = Sandbox::write_file("$dir/igc-sante-ca.pem", Sandbox::slurp($pki->{bundle}));
    });
    if (my $b = $o{break}) {
        croak "unknown part to break: $b (one of: @BREAKS)" unless grep { $_ eq $b } @BREAKS;
        $w->{say}->("  - BREAKING ON PURPOSE: removing the trust-anchor file $w->{anchors}\n");
        unlink $w->{anchors};
    }
    my ($pg, $conf0);
    stage($w, 'PostgreSQL with the schema migrated by mssante-db', sub {
        ($pg, $conf0) = $sb->migrated;
        $w->{pg} = $pg;
    });
    mkdir "$dir/smime-spool";
    chmod 01777, "$dir/smime-spool";

    my $web = "$dir/www";
    stage($w, 'the liste blanche (A, B and the CNAM) signed with XML-DSig, served over HTTPS', sub {
        my @entries = map { [$op->{$_}{domain}, $op->{$_}{cert}{dn}] } qw(A B P);
        $w->{lb_good} = ListeBlanche::sign(ListeBlanche::document(entries => \@entries), $w->{signer},
                                           "$dir/lb-good.xml");
        Sandbox::write_file("$web/listeblanchemssante.xml", Sandbox::slurp($w->{lb_good}));
        my $https = $sb->https_server($web);
        $w->{lb_url} = "https://localhost:$https->{port}/listeblanchemssante.xml";
    });
    my $base = Sandbox::slurp($conf0) . "otp_key_file = $dir/otp.key\n";
    # portal => 1: operator A's users' portal behind nginx, its mail through A's Postfix
    my $pp = $o{portal} ? PortalWorld::ports() : undef;
    for my $k (qw(A B)) {
        my $o = $op->{$k};
        # one operator's mssante.conf, and its own database (B's made and migrated here)
        $o->{db} = $k eq 'A' ? 'mssante' : 'mssante_' . lc $k;
        my ($ci) = $k eq 'A' ? $pg->{conninfo}
                 : stage($w, "operator $k: a database of its own, migrated", sub { $sb->database($o->{db}) });
        $o->{conf} = Sandbox::write_file("$dir/mssante-\L$k\E.conf", ($base =~ s/^database = .*$/database = $ci/mr)
            . join '', map { "$_\n" }
            "whitelist_file = $dir/lib-\L$k\E/listeblanche.xml",
            "whitelist_trust_anchors = $w->{anchors}",
            "whitelist_https_ca = $pki->{bundle}",
            "whitelist_url = $w->{lb_url}",
            "our_domains = $o->{domain}",
            "whitelist_issuer_cns = $pki->{organisations}{cn}",
            'outbound_daemons = ORIGINATING',
            'whitelist_check_interval = 1s',
            "smime_trust_anchors = $w->{anchors}",
            "smime_spool_directory = $dir/smime-spool",
            'smime_default_policy = sign+encrypt-when-possible',
            ($o{services} || ($pp && $k eq 'A'))
                ? 'local_exempt_senders = ' . join(', ', $o{services} ? "notices\@$o->{domain}" : (),
                                                             $pp && $k eq 'A' ? 'portail@a.mssante.test' : ()) : (),
            $o{services} ? "sieve_app_senders_file = $dir/sieve-\L$k\E/app-senders.sieve" : (),
            $pp && $k eq 'A' ? PortalWorld::settings($pp, $sb->sendmail_relay('a')) : ());
        if ($o{services}) {     # where Dovecot's mail user compiles the Sieve scripts
            mkdir "$dir/sieve-\L$k";
            chown scalar(getpwnam('nobody')), -1, "$dir/sieve-\L$k";
        }
        stage($w, "operator $k installs the liste blanche with 'liste-blanche fetch' (signature checked)", sub {
            mkdir "$dir/lib-\L$k";
            my ($rc, $out) = cmd($w, 'liste-blanche', '-c', $o->{conf}, 'fetch');
            die "liste-blanche fetch failed (exit $rc): $out" if $rc;
            $o->{lb_file} = "$dir/lib-\L$k\E/listeblanche.xml";
        });
    }

    stage($w, 'the national directory: a generated extraction file loaded by annuaire-sync', sub {
        my $day = Extraction::generate(seed => 6, rows => 2000);
        my $r = $day->{rows}[0];
        for my $k (qw(A B)) {
            my $o = $op->{$k};
            my @f = @$r;
            @f[0, 1, 3, 4, 8, 9, 10, 13, 14] = ('PER', $o->{mail}, "1000000000$k" =~ tr/AB/12/r,
                "81000000000$k" =~ tr/AB/12/r, $k eq 'A' ? 'M' : 'MME', $o->{last}, $o->{first}, '10', 'Médecin');
            @f[18, 27, 28, 29] = $k eq 'A' ? ('CENTRE HOSPITALIER DE BORDEAUX', '33000 BORDEAUX', '33000', '33')
                                           : ('CENTRE HOSPITALIER DE LYON', '69003 LYON', '69003', '69');
            push @{ $day->{rows} }, \@f;
        }
        Extraction::write($day, "$dir/Extraction_Correspondance_MSSante.txt");
        $w->{annuaire_rows} = scalar @{ $day->{rows} };
        $w->{annuaire_sync} = must($w, 'annuaire-sync', '-c', $op->{A}{conf}, '--extraction',
                                   "$dir/Extraction_Correspondance_MSSante.txt");
    });

    stage($w, 'S/MIME certificate store: each doctor\'s own key, the other\'s certificate', sub {
        my (undef, undef, $pfuid, $pfgid) = getpwnam('postfix');
        for my $k (qw(A B)) {
            my $o = $op->{$k};
            chown $pfuid, $pfgid, $o->{smime}{key};         # readable by the milters' user only
            chmod 0600, $o->{smime}{key};
            must($w, 'mssante-smime', '-c', $o->{conf}, 'import', 'own', $o->{mail},
                 '--cert', $o->{smime}{chain}, '--key', $o->{smime}{key});
            my $peer = $op->{ $k eq 'A' ? 'B' : 'A' };
            must($w, 'mssante-smime', '-c', $o->{conf}, 'import', 'peer', $peer->{mail}, '--cert', $peer->{smime}{chain});
        }
    });

    stage($w, 'accounts and BALs of both operators from their request form (mssante-admin import), OTP site key', sub {
        must($w, 'mssante-otp', '-c', $op->{A}{conf}, 'key');
        for my $k (qw(A B)) {
            my $o = $op->{$k};
            my $rpps = "1000000000$k" =~ tr/AB/12/r;
            my @rows = ("$o->{user};Dr;$o->{last};$o->{first};$o->{user}\@perso.test;$o->{mail};PER;;$rpps;;");
            # Operator A also has a secretariat: an ORG BAL, the doctor its responsible, a secretary its delegate.
            push @rows, "$o->{user};;;;;secretariat\@$o->{domain};ORG;;;330781196;Secrétariat médical",
                        "claire.secretaire;Mme;SECRETAIRE;Claire;claire\@perso.test;secretariat\@$o->{domain};;delegue;;;"
                if $k eq 'A';
            my $form = Sandbox::write_file("$dir/formulaire-\L$k\E.csv", encode_utf8(join "\n",
                'login;civilite;nom;prenom;email_contact;bal;type;role;rpps_adeli;finess;service', @rows, ''));
            must($w, 'mssante-admin', '-c', $o->{conf}, 'import', $form, '--apply', '--passwords', "$form.pw");
            ($o->{password}) = Sandbox::slurp("$form.pw") =~ /^\Q$o->{user}\E;(\S+)$/m
                or die "no password for $o->{user} in $form.pw";
        }
        # Dr B is already enrolled (app and a device password: the demo reads B's mail with it).
        for my $e (map { $op->{$_} } @{ $o{enrol} || ['B'] }) {
            my $out = must($w, 'mssante-otp', '-c', $e->{conf}, 'enroll', $e->{user}, '--totp');
            ($e->{totp}) = $out =~ /secret=([A-Z2-7]+)/ or die "no secret in: $out";
            must($w, 'mssante-otp', '-c', $e->{conf}, 'verify', $e->{user}, totp($e->{totp}));
            ($e->{device}) = must($w, 'mssante-otp', '-c', $e->{conf}, 'device', 'add', $e->{user}, 'sandbox')
                =~ /^(d\d+-\S+)$/m or die 'no device password';
        }
    });

    for my $k (qw(A B)) {
        my $o = $op->{$k};
        my $lk = lc $k;
        stage($w, "operator $k: milter-whitelist and milter-smime (as user postfix)", sub {
            $o->{wl} = $sb->milter(bin => $sb->bin('milter-whitelist'), name => "wl-$lk",
                                   args => ['-c', $o->{conf}, '-u', 'postfix']);
            $o->{sm} = $sb->milter(bin => $sb->bin('milter-smime'), name => "smime-$lk",
                                   args => ['-c', $o->{conf}, '-u', 'postfix']);
        });
        stage($w, "operator $k: Dovecot with the OTP passdb, the SQL userdb, the patient-folder and marks plugins"
                  . ($o{services} ? ', Sieve, ManageSieve and notices' : ''), sub {
            Sandbox::write_file("$dir/dovecot-patient-folder-$lk.conf",
                                Sandbox::slurp($sb->top . '/conf/dovecot-patient-folder.conf'));
            my $services = $o{services} ? services($w, $k) : '';
            $o->{dc} = $sb->dovecot(name => "dovecot-$lk",
                plugins => [map { $sb->build . "/dovecot/$_" }
                            qw(lib95_mssante_patient_folder_plugin.so lib96_mssante_marks_plugin.so),
                            $o{services} ? 'lib96_mssante_notify_plugin.so' : ()],
                auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                passdb => "  driver = mssante_otp\n  args = $o->{conf}", userdb_sql => $o->{db},
                extra => encode_utf8(<<"EOF"));
!include $dir/dovecot-patient-folder-$lk.conf
!include ${\ $sb->top }/conf/dovecot-marks.conf
auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_\@*
namespace inbox {
  inbox = yes
  separator = /
  mailbox "$FOLDER" {
    special_use = \\Important
  }
}
service auth {
  unix_listener auth-smtp {
    mode = 0666
  }
}
$services
${\ ($pp && $k eq 'A' ? PortalWorld::listener($sb) : '') }
EOF
            $o->{dc}{sieve_port} = $o->{sieve_port};
        });
    }
    $_->{port} = Sandbox::free_port($_->{addr}) for @$op{qw(A B P)};
    if ($pp) {
        stage($w, 'the holders\' own mailboxes at perso.test (a Dovecot of their own), for the portal\'s links', sub {
            $w->{perso} = $sb->dovecot(name => 'perso', users => { "$NEWCOMER->{contact}\@perso.test"
                                                                   => $PortalWorld::PERSO_PASSWORD });
        });
    }
    my %tls = (
        smtpd_tls_security_level => 'may', smtpd_tls_ask_ccert => 'yes',
        smtpd_tls_CAfile => $pki->{bundle}, smtpd_tls_protocols => '>=TLSv1.2',
        smtpd_tls_mandatory_protocols => '>=TLSv1.2', smtpd_tls_loglevel => 1,
        smtp_tls_security_level => 'encrypt', smtp_tls_CAfile => $pki->{bundle},
        smtp_tls_protocols => '>=TLSv1.2', smtp_tls_mandatory_protocols => '>=TLSv1.2',
        smtp_tls_mandatory_ciphers => 'high', tls_high_cipherlist => $TLS_CIPHERS, smtp_tls_loglevel => 1,
    );
    # The shipped line that keeps our verdict headers from leaving.
    my %strip = Sandbox::slurp($sb->top . '/conf/postfix-main.cf') =~ /^(smtp_header_checks) = (.*)$/m
        or die 'no smtp_header_checks in conf/postfix-main.cf';
    for my $k (qw(A B P)) {
        my $o = $op->{$k};
        my %transport = ((map { $op->{$_}{domain} => "smtp:[$op->{$_}{addr}]:$op->{$_}{port}" }
                          grep { $_ ne $k } qw(A B P)), $o->{dc} ? %{ $o{transport} || {} } : (),
                         $pp && $k eq 'A' ? ('perso.test' => "lmtp:inet:127.0.0.1:$w->{perso}{lmtp_port}") : ());
        my %main = (%tls, %strip, smtpd_tls_cert_file => $o->{cert}{chain}, smtpd_tls_key_file => $o->{cert}{key},
                    smtp_tls_cert_file => $o->{cert}{chain}, smtp_tls_key_file => $o->{cert}{key});
        my @sub = ('milter_macro_daemon_name=ORIGINATING');
        if ($o->{dc}) {
            %main = (%main, milter_default_action => 'tempfail', milter_protocol => 6,
                     smtpd_milters => "$o->{wl}{socket} $o->{sm}{socket}",
                     non_smtpd_milters => "$o->{wl}{socket} $o->{sm}{socket}");
            push @sub, 'smtpd_sasl_auth_enable=yes', 'smtpd_sasl_type=dovecot',
                "smtpd_sasl_path=$o->{dc}{dir}/run/auth-smtp",
                'smtpd_recipient_restrictions=permit_sasl_authenticated,reject';
        }
        stage($w, sprintf('%s: Postfix on %s (inbound with mutual TLS%s)', $k eq 'P' ? 'the CNAM' : "operator $k",
                          $o->{addr}, $o->{dc} ? ', submission with SASL through Dovecot' : ', its patients\' submission'), sub {
            $o->{pf} = $sb->postfix(name => lc $k, addr => $o->{addr}, port => $o->{port},
                hostname => "mx.$o->{domain}",
                $o->{db} ? (pgsql => $o->{db}) : (domains => [$o->{domain}], recipients => ["$INS\@$o->{domain}"]),
                $o->{dc} ? (lmtp => "inet:127.0.0.1:$o->{dc}{lmtp_port}") : (),
                transport => \%transport, submission => { args => \@sub }, main => \%main);
        });
    }
    if ($pp) {
        stage($w, "operator A: mssante-portal behind nginx, $pp->{url}/", sub {
            $w->{portal} = PortalWorld::serve($sb, $op->{A}{conf}, $pp, $op->{A}{dc});
        });
    }
    $w->{started_in} = time - $t0;
    return $w;
}

# services - the Dovecot lines of the mailbox services at operator $k: the
# shipped dovecot-sieve.conf (its guard copied where Dovecot's mail user
# compiles it, ManageSieve on a port of its own) and dovecot-notify.conf,
# both sending through Postfix's sendmail (Sandbox::sendmail_relay)
sub services {
    my ($w, $k) = @_;
    my ($sb, $o, $lk) = ($w->{sb}, $w->{op}{$k}, lc $k);
    my $d = "$w->{dir}/sieve-$lk";
    Sandbox::write_file("$d/mssante-guard.sieve", Sandbox::slurp($sb->top . '/conf/mssante-guard.sieve'));
    my $sieve = Sandbox::slurp($sb->top . '/conf/dovecot-sieve.conf');
    $sieve =~ s{^(\s*sieve_before =).*$}{$1 $d/mssante-guard.sieve}m or die 'no sieve_before in dovecot-sieve.conf';
    $sieve =~ s{^(\s*sieve_before2 =).*$}{$1 $d/app-senders.sieve}m or die 'no sieve_before2 in dovecot-sieve.conf';
    $sieve =~ s{^(\s*port =) 4190$}{$1 $o->{sieve_port}\n    address = 127.0.0.1}m
        if ($o->{sieve_port} = Sandbox::free_port('127.0.0.1'));
    my $notify = Sandbox::slurp($sb->top . '/conf/dovecot-notify.conf');
    $notify =~ s/^(\s*mssante_notify_sender =).*$/$1 notices\@$o->{domain}/m;
    $notify =~ s/^(\s*mssante_notify_sendmail =).*$/$1 $w->{dir}\/sendmail-$lk\/sendmail/m;
    $o->{sendmail} = $sb->sendmail_relay($lk);
    return "$sieve\n$notify\nsendmail_path = $o->{sendmail}\n";
}

# totp - the current code (or the code "at" seconds from now) of a secret, by oathtool
sub totp {
    my ($secret, $ahead) = @_;
    my $now = $ahead ? "--now '\@" . int(time + $ahead) . "'" : '';
    my $c = qx{oathtool --totp $now -b $secret};
    chomp $c;
    return $c;
}

# ---------------------------------------------------------------- the day

# imap_wait - the header block of a message (by subject) in a folder, polled
sub imap_wait {
    my ($w, $k, $login, $pass, $folder, $subject, $timeout) = @_;
    my $end = time + ($timeout || 60);
    while (1) {
        my $imap = $w->{sb}->imap($w->{op}{$k}{dc}{imap_port}, $login, $pass);
        die "IMAP login of $login refused: " . $imap->login_text unless $imap->login_ok;
        my $h = $imap->find($folder, $subject);
        $imap->logout;
        return $h if $h || time > $end;
        $w->{sb}->postqueue_empty($_, 1) for grep { $_ } map { $_->{pf} } values %{ $w->{op} };
        sleep 0.5;
    }
}

# smtp_reply - the server's last answers in a swaks transcript (the lines a user would see)
sub smtp_reply {
    my ($t) = @_;
    my @l = grep { /^<~?\*{1,2} / } split /\n/, $t;
    s/^<~?\*{1,2} +// for @l;
    return join "\n", @l;
}

# refusal - the final line of a 5xx answer in what smtp_reply returned (undef if none)
sub refusal {
    my ($reply, $code) = @_;
    $code //= '5\d\d';
    return ($reply =~ /^($code [^\n]*)/m)[0];
}

# imap_try - "accepted" or "refused (the server's words)" for one IMAP login at an operator
sub imap_try {
    my ($w, $k, $login, $pass) = @_;
    my $imap = $w->{sb}->imap($w->{op}{$k}{dc}{imap_port}, $login, $pass);
    my $r = $imap->login_ok ? 'accepted' : 'refused (' . ($imap->login_text =~ /(?:NO|BAD) (.*?)\r?$/m)[0] . ')';
    $imap->logout;
    return $r;
}

# from_x - operator X (valid certificate, not listed) writes to Dr DUPONT; the server's answers
sub from_x {
    my ($w, $subject) = @_;
    my ($a, $x) = @{ $w->{op} }{qw(A X)};
    my (undef, $t) = Sandbox::swaks($a->{addr}, $a->{port}, local => $x->{addr}, cert => $x->{cert},
        from => "dr.faux\@$x->{domain}", to => [$a->{mail}], subject => subject($w, $subject),
        headers => ["From: <dr.faux\@$x->{domain}>"]);
    return smtp_reply($t);
}

sub subject { my ($w, $what) = @_; return "$what " . ++$w->{serial} . '-' . int(rand 1e6) }

# indent - text shown inside a step
sub indent { my ($t) = @_; $t =~ s/^/      /mg; $t =~ s/\s+\z//; return "$t\n" }

# the steps: each says what it does, returns (expected, observed, ok)
my @STEPS = (
['0. A new doctor activates her account in the portal', sub {
    my ($w) = @_;
    my ($a, $n) = ($w->{op}{A}, $NEWCOMER);
    my $say = $w->{say};
    return ('the portal runs', 'no portal in this world', 0) unless $w->{portal};
    if (my $why = Browser::missing()) {
        return ('activated in a browser', "no browser: $why", 0);
    }
    $say->("The administrator of operator A creates Dr Sophie BERNARD's account without choosing her\n"
         . "password: 'mssante-admin account add $n->{login} --activation --contact $n->{contact}\@perso.test'.\n");
    must($w, 'mssante-admin', '-c', $a->{conf}, 'account', 'add', $n->{login}, '--activation', '--contact',
         "$n->{contact}\@perso.test", '--first-name', $n->{first}, '--last-name', $n->{last});
    must($w, 'mssante-admin', '-c', $a->{conf}, 'bal', 'add', "$n->{login}\@$a->{domain}", '--owner', $n->{login},
         '--rpps-adeli', '10000000003');
    my $alone = imap_try($w, 'A', $n->{login}, 'anything');
    $say->("Before she activates it, IMAP answers: $alone\n"
         . "She opens the link of the message in her personal mailbox, in a browser (headless Chromium):\n");
    my (@failed, $checks);
    my $done = Browser::run(
        cfg => { url => $w->{portal}{url}, host => $PortalWorld::HOST, shots => "$w->{dir}/portal-shots",
                 scenario => 'demo', user => { login => $n->{login}, contact => $n->{contact} },
                 password => $n->{password} },
        ok => sub { my ($ok, $name, $diag) = @_; $checks++; $say->(($ok ? '  ok: ' : '  FAILED: ') . "$name\n");
                    push @failed, $name unless $ok },
        say => sub { $say->("  $_[0]\n") },
        answer => {
            mail => sub { my ($m) = @_; return { text => scalar PortalWorld::mail($w, $m->{user}, $m->{subject}, 60) // '' } },
            imap => sub { my ($m) = @_; my $r = imap_try($w, 'A', $m->{user}, $m->{password});
                          return { ok => $r eq 'accepted' ? 1 : 0, text => $r } },
        });
    return ('activated, app enrolled in the browser, IMAP with password+code',
            $done && !@failed ? "activated and enrolled; $checks checks passed"
                              : 'failed: ' . join('; ', @failed, $done ? () : 'the browser stopped'),
            $done && !@failed && $alone =~ /^refused/);
}],
['1. OTP enrolment and IMAP login', sub {
    my ($w) = @_;
    my $a = $w->{op}{A};
    my $say = $w->{say};
    $say->("Dr Jean DUPONT (operator A) enrols an authenticator app. The administrator runs\n"
         . "'mssante-otp enroll jean.dupont --totp'; the doctor scans the QR code:\n");
    my $out = must($w, 'mssante-otp', '-c', $a->{conf}, 'enroll', $a->{user}, '--totp', '--qr');
    ($a->{totp}) = $out =~ /secret=([A-Z2-7]+)/ or die "no otpauth:// URI in: $out";
    $say->(indent($out));
    my $code = totp($a->{totp});
    $say->("The app shows a code (oathtool computes it: $code); 'mssante-otp verify' confirms the enrolment.\n");
    must($w, 'mssante-otp', '-c', $a->{conf}, 'verify', $a->{user}, $code);
    ($a->{device}) = must($w, 'mssante-otp', '-c', $a->{conf}, 'device', 'add', $a->{user}, 'Messagerie du cabinet')
        =~ /^(d\d+-\S+)$/m or die 'device add printed no device password';
    $say->("A device password for the practice's mail software: $a->{device}\n");
    my $alone = imap_try($w, 'A', $a->{user}, $a->{password});
    $say->("IMAP login with the password alone: $alone\n");
    # The code of the next 30-second step: the verified one cannot be used twice.
    my $next = totp($a->{totp}, 30);
    my $with = imap_try($w, 'A', $a->{user}, $a->{password} . $next);
    $say->("IMAP login with password followed by the code $next: $with\n");
    return ('password alone refused; password+code logs in', "password alone $alone; password+code $with",
            $alone =~ /^refused/ && $with eq 'accepted');
}],
['2. A writes to a colleague at B', sub {
    my ($w) = @_;
    my ($a, $b) = @{ $w->{op} }{qw(A B)};
    my $say = $w->{say};
    $say->("Dr DUPONT looks for a colleague in the national directory:\n"
         . "'annuaire-search --nom martin --prenom marie --ville lyon'\n");
    my $found = must($w, 'annuaire-search', '-c', $a->{conf}, '--nom', 'martin', '--prenom', 'marie', '--ville', 'lyon');
    $say->(indent($found));
    my ($to) = $found =~ /(\S+\@b\.mssante\.test)/ or return ('found in the directory', "not found:\n$found", 0);
    my $subject = subject($w, 'Compte rendu de consultation');
    $say->("He writes to $to from his mail software (SMTP submission, AUTH with the device password).\n");
    my ($rc, $t) = Sandbox::swaks($a->{addr}, $a->{pf}{submission_port}, auth => [$a->{user}, $a->{device}],
        from => $a->{mail}, to => [$to], subject => $subject, headers => ["From: Dr Jean DUPONT <$a->{mail}>"],
        body => "Chère consœur, voici le compte rendu de consultation.");
    return ('accepted, delivered', "submission refused: " . smtp_reply($t), 0) if $rc;
    my $h = imap_wait($w, 'B', $b->{user}, $b->{device}, 'INBOX', $subject)
        or return ('delivered', 'not in Dr MARTIN\'s INBOX after 60 s', 0);
    my $trust = Smime::header($h, 'X-MSSante-Trust') // '(none)';
    my $smime = Smime::header($h, 'X-MSSante-SMIME') // '(none)';
    my ($sent) = Sandbox::slurp($a->{sm}{log}) =~ /(outbound: signed[^\n]*)\n(?![\s\S]*outbound: )/;
    $say->("Operator A's milter-smime: " . ($sent // '(no outbound line)') . "\n"
         . "Operator B received it over mutual TLS and delivered it. Dr MARTIN reads it over IMAP:\n"
         . indent("X-MSSante-Trust: $trust\nX-MSSante-SMIME: $smime"));
    my $imap = $w->{sb}->imap($b->{dc}{imap_port}, $b->{user}, $b->{device});
    my $marks = $imap->keywords('INBOX', $subject) // '(none)';
    $imap->logout;
    $say->("Her mail software shows the keywords: $marks\n");
    my ($raw) = grep { /\Q$subject\E/ } Smime::maildir($b->{dc}, $b->{mail});
    my ($vok, undef, $verr) = Smime::verify($w->{sb}, $raw // '');
    $say->("Independent check, 'openssl cms -verify' of the delivered copy: " . ($vok ? 'Verification successful' : "FAILED: $verr") . "\n");
    my $dn = $a->{cert}{dn};
    my $ok = $trust =~ /^mssante; domain=a\.mssante\.test; operator="\Q$dn\E"$/
          && $smime =~ /\bsigned=yes; verified=yes\b/ && $smime =~ /\bdecrypted=yes\b/
          && ($sent // '') =~ /signed and encrypted/ && $vok && $marks eq '$MSSante $SMIME-Encrypted $SMIME-Signed';
    my @seen = $smime =~ /\b((?:verified|decrypted)=\w+)/g;
    my ($tdom) = $trust =~ /(domain=[^;]+)/;
    my ($tcn) = $trust =~ /operator="(CN=[^,]+)/;
    my $tshort = $tdom && $tcn ? "$tdom $tcn" : $trust;
    return ('encrypted by A; decrypted and verified at B; Trust names A\'s server certificate;'
            . ' keywords: $MSSante $SMIME-Encrypted $SMIME-Signed',
            ($sent && $sent =~ /signed and encrypted/ ? 'encrypted by A' : 'NOT encrypted by A')
            . "; at B: @seen; Trust: $tshort; openssl cms -verify: " . ($vok ? 'ok' : 'FAILED') . "; keywords: $marks", $ok);
}],
['3. A writes to a gmail address', sub {
    my ($w) = @_;
    my $a = $w->{op}{A};
    $w->{say}->("Dr DUPONT writes to a patient's personal address, dr.house\@gmail.com.\n");
    my ($rc, $t) = Sandbox::swaks($a->{addr}, $a->{pf}{submission_port}, auth => [$a->{user}, $a->{device}],
        from => $a->{mail}, to => ['dr.house@gmail.com'], subject => subject($w, 'Résultats'));
    my $reply = smtp_reply($t);
    $w->{say}->("Operator A's Postfix answers:\n" . indent($reply));
    return ('refused at RCPT: 550 5.7.1 outside the trust space', refusal($reply, '550') // $reply,
            $rc != 0 && $reply =~ /550-5\.7\.1 .*hors de l'espace de confiance MSSante/ && $reply =~ /550 5\.7\.1 .*outside the MSSante trust space/);
}],
['4. a patient replies', sub {
    my ($w) = @_;
    my ($a, $p) = @{ $w->{op} }{qw(A P)};
    my $patient = "$INS\@patient.mssante.fr";
    my $subject = subject($w, 'Re: rendez-vous');
    $w->{say}->("A patient answers from $patient: the CNAM's Postfix (127.0.0.4) relays it to operator A\n"
              . "over mutual TLS; milter-whitelist checks that the CNAM is listed for patient.mssante.fr.\n");
    my ($rc, $t) = Sandbox::swaks($p->{addr}, $p->{pf}{submission_port}, from => $patient, to => [$a->{mail}],
        subject => $subject, headers => ["From: <$patient>"], body => 'Merci docteur, je viendrai mardi.');
    return ('filed in Échanges Patients', 'the CNAM refused it: ' . smtp_reply($t), 0) if $rc;
    my $h = imap_wait($w, 'A', $a->{user}, $a->{device}, $FOLDER7, $subject);
    my $imap = $w->{sb}->imap($a->{dc}{imap_port}, $a->{user}, $a->{device});
    my $inbox = $imap->find('INBOX', $subject);
    $imap->logout;
    my $where = join(', ', ($h ? "\"$FOLDER\"" : ()), ($inbox ? 'INBOX' : ())) || 'nowhere';
    $w->{say}->("Dr DUPONT's IMAP folders holding it: $where\n"
              . ($h ? indent('X-MSSante-Trust: ' . Smime::header($h, 'X-MSSante-Trust')) : ''));
    return ("filed in \"$FOLDER\" only", "in $where", $h && !$inbox);
}],
['5. forged patient mail, unlisted operator', sub {
    my ($w) = @_;
    my ($a, $b) = @{ $w->{op} }{qw(A B)};
    my $patient = "$INS\@patient.mssante.fr";
    my $say = $w->{say};
    $say->("a) Operator B (listed, but for b.mssante.test only) sends mail claiming to come from $patient:\n");
    my (undef, $t) = Sandbox::swaks($a->{addr}, $a->{port}, local => $b->{addr}, cert => $b->{cert}, from => $patient,
        to => [$a->{mail}], subject => subject($w, 'faux patient'), headers => ["From: <$patient>"]);
    my $ra = smtp_reply($t);
    $say->(indent($ra));
    $say->("b) Operator X, with a valid IGC-Santé certificate but absent from the liste blanche:\n");
    my $rb = from_x($w, 'operateur inconnu');
    $say->(indent($rb));
    $say->("c) A local user submits mail with a patient's From: and a forged X-MSSante-Trust header:\n");
    my $subject = subject($w, 'faux en-tete');
    my ($rc) = Sandbox::swaks($a->{addr}, $a->{pf}{submission_port}, auth => [$a->{user}, $a->{device}],
        from => $a->{mail}, to => [$a->{mail}], subject => $subject,
        headers => ["From: <$patient>", 'X-MSSante-Trust: mssante; domain=patient.mssante.fr; operator="CN=faux"']);
    my $h = $rc ? undef : imap_wait($w, 'A', $a->{user}, $a->{device}, 'INBOX', $subject);
    my $marks;
    if ($h) {
        my $imap = $w->{sb}->imap($a->{dc}{imap_port}, $a->{user}, $a->{device});
        $marks = $imap->keywords('INBOX', $subject);
        $imap->logout;
    }
    my $rc_where = $h ? 'INBOX, X-MSSante-Trust: ' . Smime::header($h, 'X-MSSante-Trust')
                        . ', keywords: ' . ($marks || 'none') : 'not delivered';
    $say->(indent("delivered to $rc_where"));
    my ($ca, $cb) = (refusal($ra, '550 5\.7\.1'), refusal($rb));
    return ('a) 550 b) 550 c) INBOX, verdict "local", keywords: none',
            'a) ' . ($ca // $ra) . ' b) ' . ($cb // $rb) . " c) $rc_where",
            $ca && $cb && $h && Smime::header($h, 'X-MSSante-Trust') eq 'local' && defined $marks && $marks eq '');
}],
['6. tampered liste blanche', sub {
    my ($w) = @_;
    my ($a, $x) = @{ $w->{op} }{qw(A X)};
    my $say = $w->{say};
    $say->("Someone slips operator X into the published list without the signing key.\n");
    my $good = Sandbox::slurp($a->{lb_file});
    (my $tampered = Sandbox::slurp($w->{lb_good}))
        =~ s{</ListeDomaines>}{<Domaine><Nom>$x->{domain}</Nom><DNCertificatOperateur>$x->{cert}{dn}</DNCertificatOperateur></Domaine></ListeDomaines>}
        or die 'cannot tamper with the list';
    Sandbox::write_file("$w->{dir}/www/listeblanchemssante.xml", $tampered);
    my ($rc, $out) = cmd($w, 'liste-blanche', '-c', $a->{conf}, 'fetch', '--force');
    $say->("'liste-blanche fetch' on operator A (exit $rc):\n" . indent($out));
    my $kept = Sandbox::slurp($a->{lb_file}) eq $good;
    my $rx = from_x($w, 'apres falsification');
    my $r = refusal($rx);
    $say->("The installed list is " . ($kept ? 'unchanged' : 'CHANGED') . "; operator X tries again: " . ($r // $rx) . "\n");
    my ($why) = $out =~ /REFUSED: \S+: ([^:;]+)/;
    return ('refused, old list kept, X still refused',
            ($rc ? 'refused' . ($why ? " ($why)" : '') : 'INSTALLED') . ($kept ? ', old list kept' : ', list CHANGED')
            . ($r ? ', X refused' : ', X ACCEPTED'),
            $rc != 0 && $kept && $r);
}],
);

# day - play every step; returns the rows [step, expected, observed, ok]
sub day {
    my ($w) = @_;
    my @rows;
    for my $s (@STEPS) {
        my ($name, $code) = @$s;
        $w->{say}->("\n== $name\n");
        my @r = eval { $code->($w) };
        @r = ('(see above)', "error: $@" =~ s/\s+\z//r, 0) unless @r;
        push @rows, [$name, @r[0, 1], $r[2] ? 1 : 0];
    }
    return @rows;
}

sub steps { return map { $_->[0] } @STEPS }

1;
