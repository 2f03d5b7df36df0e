/*
 * signature.h — contracts signed by the hub: each contract file FILE of a deployed set comes
 * with a detached FILE.minisig (what `minisign -S`, prehashed, or `minisign -S -l`, legacy,
 * writes), which must verify against one of the module config's `trusted_keys` (minisign public
 * keys). The check runs on the bytes the set was parsed from (their SHA-256 must be the
 * contract's), so a file changed after its signature, or between parsing and checking, is
 * refused. The formats and Ed25519 are plugin/sign/minisign.h's (libsodium).
 *
 * Config (module.c): "trusted_keys": [KEY, ...], each a public key's base64 line (as
 * `minisign -P` takes it) or a key file's two lines; "require_signed_contracts": bool, default
 * true when trusted_keys is set, and refused without it. When not required, an unsigned
 * contract is in force as before, but a signature that is there must verify.
 *
 * The trust is read once at init and then only read: thread-safe for readers.
 */
#ifndef SMART_CONTRACT_SIGNATURE_H
#define SMART_CONTRACT_SIGNATURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "contract/contract.h"
#include "minisign.h"

typedef struct contract_trust {
    msig_public_key *keys; /* owned */
    size_t key_count;
    bool required;
} contract_trust;

/* Read "trusted_keys" and "require_signed_contracts" from the module config object `config`
 * into *out (zeroed first; release with contract_trust_release). Returns 0, SMART_ECONFIG
 * ("config.trusted_keys[1]: ...") or SMART_ENOMEM. */
int contract_trust_parse(const json_t *config, contract_trust *out, smart_error *err);

void contract_trust_release(contract_trust *trust);

/* Check every contract of `set` (loaded from `dir`) against its FILE.minisig and `trust`,
 * writing the signing key's id into each contract's signed_by. Returns 0, or SMART_ECONTRACT
 * with *why naming the file and why (no signature, a broken one, an untrusted key, a file
 * changed after signing), or SMART_ENOMEM; *set is then unchanged but for signed_by. */
int contract_signatures_check(const contract_trust *trust, const char *dir, contract_set *set,
                              contract_refusal *why);

#endif /* SMART_CONTRACT_SIGNATURE_H */
