package PortalWorld;
# PortalWorld - operator A's user portal in the sandbox, as an operator runs
# it: PostgreSQL; Dovecot checking logins with mssante_otp (SQL userdb of the
# BALs) and the portal's auth listener of the shipped dovecot-auth-otp.conf;
# the holders' contact mailboxes at perso.test (a Dovecot of their own);
# Postfix (pgsql maps) carrying the portal's mail, submitted with the real
# sendmail (Sandbox::sendmail_relay); mssante-portal behind nginx with the
# shipped site, TLS by a test-PKI certificate for portail.a.mssante.test.
#
#   my $w = PortalWorld::setup($sb);
#   my $c = PortalWorld::client($w, 'marie');      # a browser-like HTTP client
#   my $r = $c->get('/connexion'); $c->post('/connexion', login => ..., password => ...);
use strict;
use warnings;
use Carp;
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);
use Sandbox;
use OtpWorld;

our $HOST = 'portail.a.mssante.test';
our $PERSO_PASSWORD = 'Perso-Boite-1';

# setup - everything started; returns the world
sub setup {
    my ($sb, %o) = @_;
    my $dir = $sb->dir;
    my ($pg, $conf) = $sb->migrated;
    my $sm = $sb->sendmail_relay('a');
    my $p = ports();
    Sandbox::write_file($conf, Sandbox::slurp($conf) . join('', map { "$_\n" }
        "otp_key_file = $dir/otp.key", 'our_domains = a.mssante.test', settings($p, $sm),
        @{ $o{conf} || [] }));
    Sandbox::run($sb->bin('mssante-otp'), '-c', $conf, 'key');

    # The contact mailboxes, outside MSSanté.
    my $perso = $sb->dovecot(name => 'perso',
                             users => { map { ("$_\@perso.test" => $PERSO_PASSWORD) } @{ $o{contacts} || [] } });
    my $dc = $sb->dovecot(name => 'dovecot', userdb_sql => 1,
                          auth_modules => [$sb->build . '/dovecot/auth/libauthdb_mssante_otp.so'],
                          passdb => "  driver = mssante_otp\n  args = $conf",
                          extra => "auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 . "01234567890.-_\@*\n" . listener($sb) . "\n");
    my $pf = $sb->postfix(name => 'a', addr => '127.0.0.2', hostname => 'mx.a.mssante.test', pgsql => 1,
                          lmtp => "inet:127.0.0.1:$dc->{lmtp_port}",
                          transport => { 'perso.test' => "lmtp:inet:127.0.0.1:$perso->{lmtp_port}" });
    my $web = serve($sb, $conf, $p, $dc);
    return {
        %$web, sb => $sb, conf => $conf, pg => $pg, dovecot => $dc, perso => $perso, postfix => $pf,
        ca => $sb->pki->{root}{cert}, sendmail => $sm,
    };
}

# ports - the portal's port and nginx's, free now: {portal_port, https_port, url}
sub ports {
    my $p = { portal_port => Sandbox::free_port('127.0.0.1'), https_port => Sandbox::free_port('127.0.0.1') };
    $p->{url} = "https://$HOST:$p->{https_port}";
    return $p;
}

# settings - the mssante.conf lines of the portal (ports from ports(), the sendmail to use)
sub settings {
    my ($p, $sendmail) = @_;
    return ('otp_email_sender = portail@a.mssante.test', "otp_sendmail = $sendmail",
            "portal_listen = 127.0.0.1:$p->{portal_port}", 'portal_user = nobody', "portal_url = $p->{url}",
            'portal_threads = 4', 'portal_imap_server = imap.a.mssante.test:993',
            'portal_submission_server = smtp.a.mssante.test:587');
}

# listener - the portal's auth listener as shipped, for the sandbox's portal user (Dovecot lines)
sub listener {
    my ($sb) = @_;
    my ($l) = Sandbox::slurp($sb->top . '/conf/dovecot-auth-otp.conf') =~ /^(service auth \{.*?^\})/ms
        or croak "conf/dovecot-auth-otp.conf: no service auth block";
    $l =~ s/user = mssante-portal/user = nobody/ or croak "the listener names no user";
    return $l;
}

# serve - mssante-portal (asking the Dovecot $dc) behind nginx with the shipped
# site: {portal, nginx, url, https_port, portal_port}
sub serve {
    my ($sb, $conf, $p, $dc) = @_;
    Sandbox::write_file($conf, Sandbox::slurp($conf) . "portal_auth_socket = $dc->{dir}/run/mssante-portal-auth\n");
    my $portal = $sb->daemon(name => 'portal', port => $p->{portal_port},
                             cmd => [$sb->bin('mssante-portal'), '-f', '-c', $conf]);
    my $srv = $sb->issue(kind => 'server', cn => $HOST, o => 'OPERATEUR A');
    my $site = Sandbox::slurp($sb->top . '/conf/nginx-mssante-portal.conf');
    # The shipped site with the sandbox's names, port and certificate; the
    # plain-HTTP server (port 80) is not the sandbox's to open.
    $site =~ s/^# Plain HTTP:.*//ms or croak "conf/nginx-mssante-portal.conf: no plain-HTTP server";
    my $n = ($site =~ s/^\s*listen 443 ssl http2;$/    listen 127.0.0.1:$p->{https_port} ssl http2;/m)
          + ($site =~ s/^\s*listen \[::\]:443 ssl http2;\n//m)
          + ($site =~ s/portail\.example\.fr autoconfig\.example\.fr/$HOST autoconfig.a.mssante.test/)
          + ($site =~ s{/etc/ssl/certs/portail\.example\.fr\.pem}{$srv->{chain}})
          + ($site =~ s{/etc/ssl/private/portail\.example\.fr\.key}{$srv->{key}})
          + ($site =~ s{shared:mssante_portal:10m}{shared:mssante_portal_$$:1m})
          + ($site =~ s{proxy_pass http://127\.0\.0\.1:8091;}{proxy_pass http://127.0.0.1:$p->{portal_port};});
    $n == 7 or croak "conf/nginx-mssante-portal.conf: not the lines the sandbox adapts ($n of 7)";
    my $ngx = $sb->nginx(servers => $site);
    Sandbox::wait_port('127.0.0.1', $p->{https_port}, 10) or croak "nginx does not listen on $p->{https_port}";
    return { %$p, portal => $portal, nginx => $ngx };
}

# admin - mssante-admin with the world's settings (a last {stdin => text}
# feeds it): (exit status, stdout, stderr)
sub admin {
    my ($w, @args) = @_;
    my $o = ref $args[-1] ? pop @args : {};
    return $w->{sb}->command($o->{stdin} // '', $w->{sb}->bin('mssante-admin'), '-c', $w->{conf}, @args);
}

# account - an account with a password, its BAL (PER, or type), its second
# factor: totp => 1 (enrolled and confirmed by mssante-otp; returns the
# secret and the time of the code used) or email => 1; contact at perso.test
sub account {
    my ($w, $login, $password, %o) = @_;
    my ($first) = split /\./, $login;
    my @a = ('account', 'add', $login, '--contact', "$first\@perso.test", '--first-name', ucfirst $first,
             '--last-name', uc((split /\./, $login)[1]));
    my ($rc, $out, $err) = admin($w, @a, { stdin => "$password\n" });
    croak "account add $login: $err" if $rc;
    my $bal = $o{bal} || "$login\@a.mssante.test";
    ($rc, $out, $err) = admin($w, 'bal', 'add', $bal, '--owner', $login,
                              ($o{type} ? ('--type', $o{type}) : ('--rpps-adeli', sprintf('1%010d', ++$w->{rpps}))));
    croak "bal add $bal: $err" if $rc;
    my $otp = $w->{sb}->bin('mssante-otp');
    if ($o{email}) {
        Sandbox::run($otp, '-c', $w->{conf}, 'enroll', $login, '--email', "$first\@perso.test");
        return;
    }
    my ($secret) = Sandbox::run($otp, '-c', $w->{conf}, 'enroll', $login, '--totp') =~ /secret=([A-Z2-7]+)/
        or croak "enroll $login";
    my $t = time;
    Sandbox::run($otp, '-c', $w->{conf}, 'verify', $login, OtpWorld::code_at($secret, $t));
    return ($secret, $t);
}

# sign_in - through the pages: password, then the code; the last answer
sub sign_in {
    my ($c, $login, $password, $code) = @_;
    $c->get('/connexion');
    my $r = $c->post('/connexion', login => $login, password => $password);
    return $r unless ($r->{location} // '') eq '/code';
    $c->get('/code');
    return $c->post('/code', code => $code);
}

# mail - the text of the newest message in a contact mailbox whose subject
# contains $subject, waited for (Postfix delivers it); undef after $secs
sub mail {
    my ($w, $user, $subject, $secs, $after) = @_;
    my $end = time + ($secs || 30);
    while (time < $end) {
        my $imap = $w->{sb}->imap($w->{perso}{imap_port}, "$user\@perso.test", $PERSO_PASSWORD);
        if ($imap->login_ok) {
            my ($st) = $imap->cmd('SELECT INBOX');
            my (undef, $txt) = $imap->cmd('SEARCH SUBJECT ' . Sandbox::IMAP::quote($subject));
            my @n = ($txt =~ /^\* SEARCH([\d ]*)/m ? split ' ', $1 : ());
            @n = grep { $_ > ($after || 0) } @n;
            if (@n) {
                my (undef, $m) = $imap->cmd("FETCH $n[-1] BODY.PEEK[]");
                $imap->logout;
                return wantarray ? ($m, $n[-1]) : $m;
            }
            $imap->logout;
        }
        sleep 0.2;
    }
    return;
}

# count - how many messages a contact mailbox holds
sub count {
    my ($w, $user) = @_;
    my $imap = $w->{sb}->imap($w->{perso}{imap_port}, "$user\@perso.test", $PERSO_PASSWORD);
    my (undef, $txt) = $imap->cmd('SELECT INBOX');
    $imap->logout;
    return $txt =~ /^\* (\d+) EXISTS/m ? $1 : 0;
}

# link - the portal link in a message (activation or reset)
sub link_in {
    my ($msg) = @_;
    my ($l) = ($msg // '') =~ m{(https://\S+/(?:activation|reinitialisation)\?t=[0-9a-f]{64})} or return;
    return $l;
}

# client - an HTTP client through nginx with a cookie jar of its own
#   local => source address (nginx names it in X-Real-IP)
sub client {
    my ($w, $name, %o) = @_;
    return PortalWorld::Client->new($w, $name, %o);
}

package PortalWorld::Client;
use strict;
use warnings;

sub new {
    my ($class, $w, $name, %o) = @_;
    my $d = $w->{sb}->dir . "/http-$name";
    File::Path::make_path($d);
    Sandbox::write_file("$d/jar", '');
    return bless { w => $w, d => $d, n => 0, local => $o{local} }, $class;
}

# request - method, path, [form pairs], headers => {name => value}, raw => file
# (the body as it is), http1 => 1: {status, headers, body, file, location, csrf}
sub request {
    my ($self, $method, $path, $form, %o) = @_;
    my $w = $self->{w};
    my $d = $self->{d};
    my $n = ++$self->{n};
    my @cmd = ('curl', '-s', '-S', '--max-time', '30', '--cacert', $w->{ca},
               '--resolve', "$PortalWorld::HOST:$w->{https_port}:127.0.0.1",
               '-b', "$d/jar", '-c', "$d/jar", '-D', "$d/h$n", '-o', "$d/b$n", '-w', '%{http_code}',
               '-X', $method);
    push @cmd, '-H', "$_: $o{headers}{$_}" for sort keys %{ $o{headers} || {} };
    push @cmd, '--interface', $self->{local} if $self->{local};
    push @cmd, '--http1.1' if $o{http1};
    if ($form) {
        my @f = @$form;
        push @cmd, '--data-urlencode', "$f[$_*2]=$f[$_*2+1]" for 0 .. $#f / 2;
    }
    push @cmd, '--data-binary', "\@$o{raw}" if $o{raw};
    my $url = $path =~ m{^https://} ? $path : "https://$PortalWorld::HOST:$w->{https_port}$path";
    my $cmd = join(' ', map { Sandbox::shell_quote($_) } @cmd, $url);
    my $code = qx{$cmd 2>$d/err$n};
    my $r = { status => $code + 0, headers => -e "$d/h$n" ? Sandbox::slurp("$d/h$n") : '',
              body => -e "$d/b$n" ? Sandbox::slurp("$d/b$n") : '', file => "$d/b$n" };
    ($r->{location}) = $r->{headers} =~ /^Location: (\S+)/mi;
    ($r->{csrf}) = $r->{body} =~ /name="csrf" value="([0-9a-f]{64})"/;
    $self->{csrf} = $r->{csrf} if $r->{csrf};
    return $r;
}

sub get { my ($self, $path, %o) = @_; return $self->request('GET', $path, undef, %o) }

# post - a form with the last page's CSRF token (unless csrf => given)
sub post {
    my ($self, $path, @form) = @_;
    my %f = @form;
    unshift @form, csrf => $self->{csrf} // '' unless exists $f{csrf};
    return $self->request('POST', $path, \@form);
}

# follow - a request, then its redirects (GET), as a browser does
sub follow {
    my ($self, $r) = @_;
    for (1 .. 5) {
        last unless $r->{status} == 303 || $r->{status} == 302;
        $r = $self->get($r->{location});
    }
    return $r;
}

1;
