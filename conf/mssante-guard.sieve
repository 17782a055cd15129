# mssante-guard.sieve - no automatic reply where MSSanté forbids one.
#
# Run before every user's own script (sieve_before, dovecot-sieve.conf). A
# message matched here gets an "Auto-Submitted: auto-generated" line
# marked "mssante-guard", which Pigeonhole's vacation honours (RFC 3834):
# the user's out-of-office never answers it. The user's filters (fileinto,
# redirect) run as usual. The line stays in the stored message (Sieve may
# add an Auto-Submitted line but never remove one): it tells any other
# automaton the message reaches, e.g. through a redirect, the same thing.
require ["envelope", "editheader", "mime"];

if anyof (
    # A patient: only the professional opens and closes a conversation.
    envelope :domain :is "from" "patient.mssante.fr",
    address :domain :is ["from", "sender", "reply-to"] "patient.mssante.fr",
    # Machine content: a structured document (IHE XDM) or its subject form.
    header :mime :anychild :param "filename" :is "Content-Disposition" "IHE_XDM.ZIP",
    header :mime :anychild :param "name" :is "Content-Type" "IHE_XDM.ZIP",
    header :matches "Subject" "XDM/1.0/DDM*",
    # Outside the trust space: neither our own users' mail nor mail an
    # MSSanté operator relayed (milter-whitelist's verdict).
    not anyof (header :is "X-MSSante-Trust" "local",
               header :matches "X-MSSante-Trust" "mssante;*")
) {
    addheader :last "Auto-Submitted" "auto-generated; mssante-guard=yes";
}
