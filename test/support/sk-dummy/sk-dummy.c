/*
 * Copyright (c) 2019 Markus Friedl
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * openssh-portable V_9_2_P1 regress/misc/sk-dummy/sk-dummy.c, adapted for jitca's tests
 * (see PROVENANCE.md): crypto through libcrypto's EVP, a "packed" attestation signed by a test
 * attestation key when SK_DUMMY_ATTESTATION_KEY/_CERT name one, and SK_DUMMY_NO_UV to sign
 * without the UV flag.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#define HAVE_STDINT_H 1
#include "sk-api.h"

#if SSH_SK_VERSION_MAJOR != 0x000a0000
# error SK API has changed, sk-dummy.c needs an update
#endif

/* Authenticator data flags (WebAuthn 6.1). */
#define FLAG_UP 0x01
#define FLAG_UV 0x04
#define FLAG_AT 0x40

uint32_t
sk_api_version(void)
{
	return SSH_SK_VERSION_MAJOR;
}

static void
sha256(const void *data, size_t len, uint8_t out[32])
{
	SHA256(data, len, out);
}

/* Key handle: the private key as PKCS#8 PEM (upstream: raw Ed25519 sk or SEC1 PEM). */
static int
pack_key(uint32_t alg, struct sk_enroll_response *response)
{
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *pem;
	long pemlen;
	size_t len = 0;
	uint8_t point[65];
	int ret = -1;

	key = alg == SSH_SK_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL)
		goto out;
	if (alg == SSH_SK_ED25519) {
		len = 32;
		if (EVP_PKEY_get_raw_public_key(key, point, &len) != 1)
			goto out;
	} else if (EVP_PKEY_get_octet_string_param(key,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point), &len) != 1 ||
	    len != 65)
		goto out;
	if ((response->public_key = malloc(len)) == NULL)
		goto out;
	memcpy(response->public_key, point, len);
	response->public_key_len = len;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0 ||
	    (response->key_handle = malloc(pemlen)) == NULL)
		goto out;
	memcpy(response->key_handle, pem, pemlen);
	response->key_handle_len = (size_t)pemlen;
	ret = 0;
 out:
	BIO_free(bio);
	EVP_PKEY_free(key);
	return ret;
}

static uint8_t *
read_file(const char *path, size_t *lenp)
{
	FILE *f;
	uint8_t *buf;
	long len;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
	    len > 65536 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc(len)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, len, f) != (size_t)len) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*lenp = (size_t)len;
	return buf;
}

/* COSE_Key (RFC 9053) of the credential: OKP/EdDSA/Ed25519 or EC2/ES256/P-256. */
static size_t
cose_key(uint32_t alg, const uint8_t *pk, uint8_t *out)
{
	static const uint8_t okp[] = { 0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06,
	    0x21, 0x58, 0x20 };
	static const uint8_t ec2[] = { 0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01,
	    0x21, 0x58, 0x20 };
	size_t o;

	if (alg == SSH_SK_ED25519) {
		memcpy(out, okp, sizeof(okp));
		memcpy(out + sizeof(okp), pk, 32);
		return sizeof(okp) + 32;
	}
	memcpy(out, ec2, sizeof(ec2));
	o = sizeof(ec2);
	memcpy(out + o, pk + 1, 32); /* x: after the 0x04 of the uncompressed point */
	o += 32;
	out[o++] = 0x22;
	out[o++] = 0x58;
	out[o++] = 0x20;
	memcpy(out + o, pk + 33, 32);
	return o + 32;
}

/*
 * A "packed" attestation, as a FIDO2 authenticator makes it through libfido2: authenticator data
 * with the attested credential, CBOR-wrapped (fido_cred_authdata_ptr), and the attestation key's
 * signature over authData || SHA-256(challenge). Nothing when the test configures no attestation
 * key (upstream's behaviour).
 */
static int
attest(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
    const char *application, uint8_t flags, struct sk_enroll_response *response)
{
	const char *keypath = getenv("SK_DUMMY_ATTESTATION_KEY");
	const char *certpath = getenv("SK_DUMMY_ATTESTATION_CERT");
	uint8_t *authdata = NULL, *signed_data = NULL;
	size_t alen, o, siglen = 0;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	FILE *f = NULL;
	int ret = -1;

	if (keypath == NULL || certpath == NULL)
		return 0;
	if ((response->attestation_cert = read_file(certpath,
	    &response->attestation_cert_len)) == NULL)
		goto out;
	if ((f = fopen(keypath, "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		goto out;
	alen = 32 + 1 + 4 + 16 + 2 + response->key_handle_len + 10 + 32 + 35;
	if ((authdata = calloc(1, alen)) == NULL)
		goto out;
	sha256(application, strlen(application), authdata);
	authdata[32] = FLAG_UP | FLAG_AT |
	    ((flags & SSH_SK_USER_VERIFICATION_REQD) ? FLAG_UV : 0);
	/* counter 0 and a zero AAGUID: calloc'd */
	o = 32 + 1 + 4 + 16;
	authdata[o++] = (response->key_handle_len >> 8) & 0xff;
	authdata[o++] = response->key_handle_len & 0xff;
	memcpy(authdata + o, response->key_handle, response->key_handle_len);
	o += response->key_handle_len;
	o += cose_key(alg, response->public_key, authdata + o);
	alen = o;

	/* The signature covers authData || clientDataHash. */
	if ((signed_data = malloc(alen + 32)) == NULL)
		goto out;
	memcpy(signed_data, authdata, alen);
	sha256(challenge, challenge_len, signed_data + alen);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, signed_data, alen + 32) != 1 ||
	    (response->signature = malloc(siglen)) == NULL ||
	    EVP_DigestSign(ctx, response->signature, &siglen, signed_data,
	    alen + 32) != 1)
		goto out;
	response->signature_len = siglen;

	/* CBOR byte string around the authenticator data (alen < 65536). */
	if ((response->authdata = malloc(alen + 3)) == NULL)
		goto out;
	o = 0;
	if (alen < 24)
		response->authdata[o++] = 0x40 | alen;
	else if (alen < 256) {
		response->authdata[o++] = 0x58;
		response->authdata[o++] = alen;
	} else {
		response->authdata[o++] = 0x59;
		response->authdata[o++] = (alen >> 8) & 0xff;
		response->authdata[o++] = alen & 0xff;
	}
	memcpy(response->authdata + o, authdata, alen);
	response->authdata_len = o + alen;
	ret = 0;
 out:
	if (f != NULL)
		fclose(f);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(authdata);
	free(signed_data);
	return ret;
}

static int
check_options(struct sk_option **options)
{
	size_t i;

	if (options == NULL)
		return 0;
	for (i = 0; options[i] != NULL; i++) {
		if (options[i]->required)
			return -1;
	}
	return 0;
}

static void
free_enroll_response(struct sk_enroll_response *response)
{
	if (response == NULL)
		return;
	free(response->public_key);
	free(response->key_handle);
	free(response->signature);
	free(response->attestation_cert);
	free(response->authdata);
	free(response);
}

int
sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
    const char *application, uint8_t flags, const char *pin,
    struct sk_option **options, struct sk_enroll_response **enroll_response)
{
	struct sk_enroll_response *response = NULL;
	int ret = SSH_SK_ERR_GENERAL;

	(void)pin;
	if (enroll_response == NULL)
		goto out;
	*enroll_response = NULL;
	if (check_options(options) != 0)
		goto out;
	if (alg != SSH_SK_ECDSA && alg != SSH_SK_ED25519)
		return SSH_SK_ERR_UNSUPPORTED;
	if ((response = calloc(1, sizeof(*response))) == NULL)
		goto out;
	response->flags = flags;
	if (pack_key(alg, response) != 0 ||
	    attest(alg, challenge, challenge_len, application, flags,
	    response) != 0)
		goto out;
	/* Have to return something here */
	if (response->signature == NULL &&
	    (response->signature = calloc(1, 1)) == NULL)
		goto out;
	*enroll_response = response;
	response = NULL;
	ret = 0;
 out:
	free_enroll_response(response);
	return ret;
}

/* SHA256(application) || flags || counter || message: what a FIDO authenticator signs. */
static int
sign_assertion(uint32_t alg, const uint8_t message[32], const char *application,
    uint32_t counter, uint8_t flags, const uint8_t *key_handle,
    size_t key_handle_len, struct sk_sign_response *response)
{
	uint8_t signbuf[32 + 1 + 4 + 32];
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t derlen = 0;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int ret = -1;

	sha256(application, strlen(application), signbuf);
	signbuf[32] = flags;
	signbuf[33] = (counter >> 24) & 0xff;
	signbuf[34] = (counter >> 16) & 0xff;
	signbuf[35] = (counter >> 8) & 0xff;
	signbuf[36] = counter & 0xff;
	memcpy(signbuf + 37, message, 32);

	if ((bio = BIO_new_mem_buf(key_handle, (int)key_handle_len)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, "")) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_PKEY_get_base_id(key) != (alg == SSH_SK_ED25519 ?
	    EVP_PKEY_ED25519 : EVP_PKEY_EC))
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, alg == SSH_SK_ED25519 ? NULL :
	    EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &derlen, signbuf, sizeof(signbuf)) != 1 ||
	    (der = malloc(derlen)) == NULL ||
	    EVP_DigestSign(ctx, der, &derlen, signbuf, sizeof(signbuf)) != 1)
		goto out;
	if (alg == SSH_SK_ED25519) {
		response->sig_r = der;
		response->sig_r_len = derlen;
		der = NULL;
	} else {
		p = der;
		if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
			goto out;
		ECDSA_SIG_get0(sig, &r, &s);
		response->sig_r_len = BN_num_bytes(r);
		response->sig_s_len = BN_num_bytes(s);
		if ((response->sig_r = calloc(1, response->sig_r_len)) == NULL ||
		    (response->sig_s = calloc(1, response->sig_s_len)) == NULL)
			goto out;
		BN_bn2bin(r, response->sig_r);
		BN_bn2bin(s, response->sig_s);
	}
	ret = 0;
 out:
	ECDSA_SIG_free(sig);
	free(der);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ret;
}

int
sk_sign(uint32_t alg, const uint8_t *data, size_t datalen,
    const char *application, const uint8_t *key_handle, size_t key_handle_len,
    uint8_t flags, const char *pin, struct sk_option **options,
    struct sk_sign_response **sign_response)
{
	struct sk_sign_response *response = NULL;
	int ret = SSH_SK_ERR_GENERAL;
	uint8_t message[32];

	(void)pin;
	if (sign_response == NULL)
		goto out;
	*sign_response = NULL;
	if (check_options(options) != 0)
		goto out;
	if (alg != SSH_SK_ECDSA && alg != SSH_SK_ED25519)
		return SSH_SK_ERR_UNSUPPORTED;
	if ((response = calloc(1, sizeof(*response))) == NULL)
		goto out;
	sha256(data, datalen, message);
	response->flags = flags;
	/* An authenticator that did not verify the user (the test's knob). */
	if (getenv("SK_DUMMY_NO_UV") != NULL)
		response->flags &= ~FLAG_UV;
	response->counter = 0x12345678;
	if (sign_assertion(alg, message, application, response->counter,
	    response->flags, key_handle, key_handle_len, response) != 0)
		goto out;
	*sign_response = response;
	response = NULL;
	ret = 0;
 out:
	if (response != NULL) {
		free(response->sig_r);
		free(response->sig_s);
		free(response);
	}
	return ret;
}

int
sk_load_resident_keys(const char *pin, struct sk_option **options,
    struct sk_resident_key ***rks, size_t *nrks)
{
	(void)pin;
	(void)options;
	(void)rks;
	(void)nrks;
	return SSH_SK_ERR_UNSUPPORTED;
}
