# ListeBlanche - build liste blanche files in the official format and sign
# them with the xmlsec1 command (an implementation independent of ours).
#
#   my $xml = ListeBlanche::document(entries => [[domain, dn], ...]);
#   ListeBlanche::sign($xml, $signer_cert, "$dir/lb.xml");
package ListeBlanche;

use strict;
use warnings;
use Sandbox;

our $NS = 'https://listeblanche.mssante.fr/schema';

sub esc {
    my ($s) = @_;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    return $s;
}

# The enveloped signature template of the published format.
our $TEMPLATE = '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
  . '<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
  . '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
  . '<Reference URI=""><Transforms>'
  . '<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
  . '<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms>'
  . '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/>'
  . '</Reference></SignedInfo><SignatureValue/>'
  . '<KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo></Signature>' . "\n";

# document - the XML bytes of a list with an unsigned signature template.
#   entries => [[domain, dn], ...], ns => namespace, root => element name,
#   date => DateDeGeneration, template => replacement template ('' for none)
sub document {
    my (%o) = @_;
    my $ns = $o{ns} // $NS;
    my $root = $o{root} // 'ListeBlancheMSSante';
    my $x = qq{<?xml version="1.0" encoding="UTF-8"?><$root xmlns="$ns">\n};
    $x .= "    <DateDeGeneration>" . ($o{date} // '2026-11-20T10:00:00Z') . "</DateDeGeneration>\n";
    $x .= "    <ListeDomaines>\n";
    for my $e (@{ $o{entries} || [] }) {
        my ($dom, $dn) = @$e;
        $x .= "        <Domaine>\n"
            . "            <Nom>" . esc($dom) . "</Nom>\n"
            . "            <Description>Domaine de messagerie MSSant\x{e9} " . esc($dom) . "</Description>\n"
            . "            <DNCertificatOperateur>" . esc($dn) . "</DNCertificatOperateur>\n"
            . "            <ResponsableContact>01 02 03 04 05, responsable\@example.test</ResponsableContact>\n"
            . "            <SupportContact>01 02 03 04 06, support\@example.test</SupportContact>\n"
            . "            <DateMAJ>2026-11-01T09:00:00Z</DateMAJ>\n"
            . "        </Domaine>\n";
    }
    $x .= "    </ListeDomaines>\n";
    $x .= $o{template} // $TEMPLATE;
    $x .= "</$root>\n";
    utf8::encode($x);
    return $x;
}

# sign - sign a document with a key and certificate; returns the output path
sub sign {
    my ($xml, $signer, $out) = @_;
    my $tmpl = "$out.tmpl";
    Sandbox::write_file($tmpl, $xml);
    Sandbox::run('xmlsec1', '--sign', '--privkey-pem', "$signer->{key},$signer->{cert}",
                 '--output', $out, $tmpl);
    unlink $tmpl;
    return $out;
}

# real - the national list published on 2025-02-28 (kept compressed in
# t/data), unpacked into the sandbox; returns its path
sub real {
    my ($sb) = @_;
    my $out = $sb->dir . '/listeblanche-2025-02-28.xml';
    unless (-f $out) {
        require IO::Uncompress::Gunzip;
        IO::Uncompress::Gunzip::gunzip($sb->top . '/t/data/listeblanche-2025-02-28.xml.gz' => $out)
            or die "cannot unpack the real list: $IO::Uncompress::Gunzip::GunzipError\n";
    }
    return $out;
}

# real_signer - the certificate that signed the real list, as PEM at $pem
sub real_signer {
    my ($sb, $pem) = @_;
    my ($b64) = Sandbox::slurp(real($sb)) =~ m{<X509Certificate>(.*?)</X509Certificate>}s;
    $b64 =~ s/&#13;|\s//g;
    require MIME::Base64;
    Sandbox::write_file("$pem.der", MIME::Base64::decode_base64($b64));
    Sandbox::run('openssl', 'x509', '-inform', 'DER', '-in', "$pem.der", '-out', $pem);
    unlink "$pem.der";
    return $pem;
}

1;
