# Extraction - generate "Extraction_Correspondance_MSSante" files with the
# real 31 columns and realistic content, deterministically from a seed, and
# derive "the next day" with known differences.
#
#   my $day = Extraction::generate(seed => 1, rows => 10_000);
#   my $stats = Extraction::write($day, $path, duplicates => 30, malformed => 1);
#   my ($next, $diff) = Extraction::next_day($day, seed => 2);
package Extraction;

use strict;
use warnings;
use utf8;

our @HEADER = ("Type de BAL", "Adresse BAL", "Type Identifiant PP", "Identifiant PP",
    "Identification nationale PP", "Type identifiant structure", "Identification Structure",
    "Service de rattachement", "Civilité d'exercice", "Nom d'exercice", "Prénom d'exercice",
    "Catégorie profession", "Libellé de catégorie profession", "Code Profession",
    "Libellé Profession", "Code savoir-faire", "Libellé savoir-faire", "Dématérialisation",
    "Raison Sociale structure BAL", "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL", "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL", "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL", "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL", "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL", "Département structure BAL", "Pays structure BAL");

my @FIRST = qw(Jean Marie Hélène Éloïse François Anne Jean-Marie Chloé Léa Noël Zoé Agnès
               Jérôme Cécile Benoît Gaëlle Pierre Sophie Théo Inès Mathilde Loïc);
my @LAST = qw(DUPONT MARTIN LEFÈVRE BERNARD DUBOIS MOREAU LAURENT GIRARD ROUSSEAU FONTAINE
              CHEVALIER GARNIER FAURE ANDRÉ MERCIER BLANC GUÉRIN BOYER MÜLLER LEROY);
my @CITY = (['42000', 'SAINT-ÉTIENNE', '42'], ['33000', 'BORDEAUX', '33'], ['75012', 'PARIS', '75'],
            ['69003', 'LYON', '69'], ['87000', 'LIMOGES', '87'], ['2A004', 'AJACCIO', '2A'],
            ['31000', 'TOULOUSE', '31'], ['59000', 'LILLE', '59']);
my @PROF = (['10', 'Médecin'], ['60', 'Infirmier'], ['21', 'Pharmacien'], ['40', 'Chirurgien-Dentiste'],
            ['70', 'Masseur-Kinésithérapeute'], ['50', 'Sage-Femme']);

# rng - a small deterministic generator (the same file for the same seed)
sub rng {
    my ($seed) = @_;
    my $x = $seed * 2654435761 % 4294967296 || 1;
    return sub {
        my ($n) = @_;
        $x ^= ($x << 13) & 0xffffffff; $x ^= $x >> 17; $x ^= ($x << 5) & 0xffffffff;
        return $x % $n;
    };
}

sub ascii {
    my ($s) = @_;
    $s =~ tr/àâäéèêëîïôöùûüçÉÈÊËÀÂÎÏÔÖÙÛÜÇ/aaaeeeeiioouuucEEEEAAIIOOUUUC/;
    return lc $s;
}

# row - one mailbox, as the 31 fields of the file
sub row {
    my ($r, $i, $serial) = @_;
    my ($fn, $ln) = ($FIRST[$r->(scalar @FIRST)], $LAST[$r->(scalar @LAST)]);
    my $c = $CITY[$r->(scalar @CITY)];
    my $p = $PROF[$r->(scalar @PROF)];
    # One domain of about 12% of the rows, the others small (median a few).
    my $dom = $r->(100) < 12 ? 'medecin.mssante.fr' : sprintf('ch-%04d.mssante.fr', $r->(400));
    my $org = $r->(100) < 15;
    my $rpps = sprintf('1%010d', $i);
    my @f = ($org ? 'ORG' : 'PER',
             $org ? "secretariat.$serial\@$dom" : ascii("$fn.$ln") . ".$serial\@$dom",
             $org ? '' : '8', $org ? '' : $rpps, $org ? '' : "8$rpps",
             '1', sprintf('1%08d', $r->(99999999)), $org ? 'Secrétariat' : '',
             $org ? '' : ($r->(2) ? 'M' : 'MME'), $org ? '' : $ln, $org ? '' : $fn,
             'C', 'Civil', $p->[0], $p->[1], '', '', 'O',
             "CENTRE HOSPITALIER DE $c->[1]", '', '', '', $r->(120) + 1, '', 'R',
             'de la République', '', "$c->[0] $c->[1]", $c->[0], $c->[2], 'FRANCE');
    return \@f;
}

# generate - a day's rows (array of field arrays), addresses unique
sub generate {
    my (%o) = @_;
    my $r = rng($o{seed} || 1);
    return { rows => [map { row($r, $_, $_) } 1 .. $o{rows}], next_serial => $o{rows} + 1,
             seed => $o{seed} || 1 };
}

sub line { join('|', @{ $_[0] }) . "\n" }

# write - the file; returns {valid => distinct valid rows, rejected => [line numbers]}
#   duplicates => N repeated rows (as the real file has),
#   malformed => 1 adds rows with a bad column count, a bad address, a bad
#   type and a non-UTF-8 byte; crlf => 1, bom => 1, trailing_bar => 1
sub write {
    my ($day, $path, %o) = @_;
    my $r = rng(($day->{seed} || 1) + 7);
    my @lines = map { line($_) } @{ $day->{rows} };
    my @rejected;
    for (1 .. ($o{duplicates} || 0)) {
        my $src = $day->{rows}[$r->(scalar @{ $day->{rows} })];
        push @lines, line($src);
    }
    if ($o{malformed}) {
        my @bad = ("PER|only|three\n",
                   line(['PER', 'not-an-address', ('') x 29]),
                   line(['XYZ', 'type.inconnu@medecin.mssante.fr', ('') x 29]),
                   line(['PER', "latin1.\xe9\@medecin.mssante.fr", ('') x 29]));
        for my $b (@bad) {
            my $at = 1 + $r->(scalar @lines);
            splice @lines, $at, 0, $b;
        }
    }
    my $text = '';
    utf8::encode(my $h = join('|', @HEADER) . "\n");
    $text .= "\xEF\xBB\xBF" if $o{bom};
    $text .= $h;
    for my $l (@lines) {
        my $b = $l;
        utf8::encode($b) if utf8::is_utf8($b);
        $b =~ s/\n$/|\n/ if $o{trailing_bar};
        $b =~ s/\n$/\r\n/ if $o{crlf};
        $text .= $b;
    }
    # Line numbers of the bad rows (header is line 1).
    for my $i (0 .. $#lines) {
        my $l = $lines[$i];
        push @rejected, $i + 2 if $l =~ /^PER\|only\|/ || $l =~ /not-an-address|^XYZ\||latin1\./;
    }
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $text;
    close $fh;
    return { valid => scalar @{ $day->{rows} }, rejected => \@rejected };
}

# next_day - ~0.5% deleted, ~0.5% created, ~1% changed; returns (day, diff)
sub next_day {
    my ($day, %o) = @_;
    my $r = rng($o{seed} || 2);
    my (@rows, %diff);
    my $serial = $day->{next_serial};
    for my $row (@{ $day->{rows} }) {
        my $x = $r->(1000);
        if ($x < 5) { $diff{deleted}++; next }
        if ($x < 15) {
            my @c = @$row;
            $c[14] = "$c[14] (modifié)";
            push @rows, \@c;
            $diff{updated}++;
            next;
        }
        push @rows, $row;
    }
    my $new = int(@{ $day->{rows} } * 0.005) || 1;
    push @rows, row($r, $serial + $_, $serial + $_) for 0 .. $new - 1;
    $diff{inserted} = $new;
    $diff{$_} //= 0 for qw(inserted updated deleted);
    return ({ rows => \@rows, next_serial => $serial + $new, seed => ($o{seed} || 2) }, \%diff);
}

1;
