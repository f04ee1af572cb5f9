/**
 * The certificates of a cluster: the control server's certificate authority, the requests
 * (PKCS #10) nodes make for their keys, and the certificates the CA issues for them, whose
 * subject alternative name is the node's name, so node-to-node TLS checks who it talks to.
 * Keys are ECDSA P-256 and signatures ECDSA with SHA-256, as lunatic's (rcgen's default).
 * Everything is synchronous (`node:crypto`), so host calls can use it without suspending.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import {
  bitString,
  boolean,
  children,
  DerError,
  type DerValue,
  expect,
  explicit,
  fromPem,
  implicitPrimitive,
  integer,
  octetString,
  oid,
  readBitString,
  readDer,
  readOid,
  sequence,
  set,
  Tag,
  time,
  tlv,
  toPem,
  utf8String,
} from "./der.ts";
import { Buffer } from "node:buffer";

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ed25519: "1.3.101.112",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

/** A certificate or request that cannot be used, and why. */
export class X509Error extends Error {}

/** A private key and the DER SubjectPublicKeyInfo of its public half. */
export interface KeyPair {
  privateKey: KeyObject;
  publicKey: Uint8Array;
  /** PKCS #8 PEM, as TLS libraries take it. */
  keyPem: string;
}

export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return keyPairOf(privateKey);
}

/** The key pair of a PEM private key (PKCS #8 or SEC 1). */
export function keyPairFromPem(pem: string): KeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new X509Error(`not a private key: ${(error as Error).message}`);
  }
  return keyPairOf(privateKey);
}

function keyPairOf(privateKey: KeyObject): KeyPair {
  const publicKey = new Uint8Array(
    createPublicKey(privateKey).export({ type: "spki", format: "der" }),
  );
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  return { privateKey, publicKey, keyPem };
}

/** A certificate authority: its certificate and key. */
export interface CertificateAuthority {
  certPem: string;
  key: KeyPair;
  /** Its subject, the issuer of what it signs (DER Name). */
  subject: Uint8Array;
  /** Its subject key identifier, the authority key identifier of what it signs. */
  keyId: Uint8Array;
}

/** What a certificate says, as far as this runtime needs to know. */
export interface CertificateInfo {
  subject: Uint8Array;
  commonName: string | null;
  publicKey: Uint8Array;
  dnsNames: string[];
  isCa: boolean;
  notBefore: Date;
  notAfter: Date;
  keyId: Uint8Array | null;
}

/** A verified certificate request: the key it is for and the names it asks for. */
export interface CertificateRequest {
  publicKey: Uint8Array;
  commonName: string | null;
  dnsNames: string[];
}

const DAY_MS = 86_400_000;

function name(commonName: string, organization?: string): Uint8Array<ArrayBuffer> {
  const rdn = (type: string, value: string) => set(sequence(oid(type), utf8String(value)));
  return organization === undefined
    ? sequence(rdn(OID.commonName, commonName))
    : sequence(rdn(OID.organization, organization), rdn(OID.commonName, commonName));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array<ArrayBuffer> {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

/** RFC 5280's method 1: the SHA-1 of the public key's bits. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  const bits = readBitString(children(readDer(spki))[1]);
  return new Uint8Array(createHash("sha1").update(bits).digest());
}

/** A KeyUsage BIT STRING: bit 0 (digitalSignature) is the first byte's top bit. */
function keyUsage(bits: number[]): Uint8Array<ArrayBuffer> {
  let value = 0;
  for (const bit of bits) value |= 0x80 >> bit;
  const last = Math.max(...bits);
  return tlv(Tag.BIT_STRING, new Uint8Array([7 - last, value]));
}

const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

function signed(tbs: Uint8Array, key: KeyPair): Uint8Array<ArrayBuffer> {
  const signature = sign("sha256", tbs, key.privateKey);
  return sequence(tbs, sequence(oid(OID.ecdsaWithSha256)), bitString(signature));
}

function serialNumber(): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(randomBytes(16));
  bytes[0] &= 0x7f; // positive
  bytes[0] |= 0x01; // and 16 bytes long
  return integer(bytes);
}

/** A new self-signed CA, valid from now for `validDays`. */
export function createCertificateAuthority(
  commonName: string,
  validDays = 3650,
  key: KeyPair = generateKeyPair(),
): CertificateAuthority {
  const subject = name(commonName, "lunatic for Deno");
  const keyId = keyIdentifier(key.publicKey);
  const now = Date.now();
  const tbs = sequence(
    explicit(0, integer(2n)),
    serialNumber(),
    sequence(oid(OID.ecdsaWithSha256)),
    subject,
    sequence(time(new Date(now - 60_000)), time(new Date(now + validDays * DAY_MS))),
    subject,
    key.publicKey,
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence(boolean(true))),
        extension(OID.keyUsage, true, keyUsage([DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN])),
        extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
      ),
    ),
  );
  return { certPem: toPem("CERTIFICATE", signed(tbs, key)), key, subject, keyId };
}

/** A CA from its PEM certificate and key; the key must be the certificate's. */
export function loadCertificateAuthority(certPem: string, keyPem: string): CertificateAuthority {
  const info = parseCertificate(certPem);
  const key = keyPairFromPem(keyPem);
  if (!equalBytes(info.publicKey, key.publicKey)) {
    throw new X509Error("the CA key is not the key of the CA certificate");
  }
  if (!info.isCa) throw new X509Error("the certificate is not a CA certificate");
  return { certPem, key, subject: info.subject, keyId: info.keyId ?? keyIdentifier(key.publicKey) };
}

export interface IssueOptions {
  publicKey: Uint8Array;
  dnsNames: string[];
  commonName?: string;
  validDays?: number;
}

/**
 * A certificate for a node (or the control server) signed by `ca`, good for both ends of a
 * TLS connection (node-to-node connections are mutual).
 */
export function issueCertificate(ca: CertificateAuthority, options: IssueOptions): string {
  if (options.dnsNames.length === 0) throw new X509Error("a certificate needs a DNS name");
  for (const dnsName of options.dnsNames) checkDnsName(dnsName);
  const now = Date.now();
  const sans = sequence(
    ...options.dnsNames.map((dns) => implicitPrimitive(2, new TextEncoder().encode(dns))),
  );
  const tbs = sequence(
    explicit(0, integer(2n)),
    serialNumber(),
    sequence(oid(OID.ecdsaWithSha256)),
    ca.subject,
    sequence(
      time(new Date(now - 60_000)),
      time(new Date(now + (options.validDays ?? 825) * DAY_MS)),
    ),
    name(options.commonName ?? options.dnsNames[0]),
    options.publicKey,
    explicit(
      3,
      sequence(
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, keyUsage([DIGITAL_SIGNATURE])),
        extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(OID.subjectAltName, false, sans),
        extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(options.publicKey))),
        extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, ca.keyId))),
      ),
    ),
  );
  return toPem("CERTIFICATE", signed(tbs, ca.key));
}

/** A PKCS #10 request for `key`, asking for `dnsNames` as subject alternative names. */
export function createCertificateRequest(key: KeyPair, dnsNames: string[]): string {
  const sans = sequence(
    ...dnsNames.map((dns) => implicitPrimitive(2, new TextEncoder().encode(dns))),
  );
  const extensions = sequence(extension(OID.subjectAltName, false, sans));
  const info = sequence(
    integer(0n),
    name(dnsNames[0] ?? "lunatic node"),
    key.publicKey,
    tlv(0xa0, sequence(oid(OID.extensionRequest), set(extensions))),
  );
  return toPem("CERTIFICATE REQUEST", signed(info, key));
}

/** Reads a PEM certificate request and checks its signature. */
export function parseCertificateRequest(pem: string): CertificateRequest {
  return wrapDer(() => {
    const [info, algorithm, signature] = children(
      expect(readDer(fromPem("CERTIFICATE REQUEST", pem)), Tag.SEQUENCE, "request"),
    );
    const fields = children(expect(info, Tag.SEQUENCE, "request info"));
    const publicKey = expect(fields[2], Tag.SEQUENCE, "subject public key").encoded;
    checkSignature(info.encoded, algorithm, signature, publicKey, "request");
    const dnsNames: string[] = [];
    const attributes = fields[3];
    if (attributes !== undefined) {
      for (const attribute of children(expect(attributes, 0xa0, "attributes"))) {
        const [type, values] = children(attribute);
        if (readOid(type) !== OID.extensionRequest) continue;
        for (const extensions of children(values)) dnsNames.push(...sanDnsNames(extensions));
      }
    }
    return { publicKey, commonName: commonNameOf(fields[1]), dnsNames };
  });
}

/** Reads a PEM certificate (it does not check who signed it). */
export function parseCertificate(pem: string): CertificateInfo {
  return wrapDer(() => {
    const [tbs] = children(
      expect(readDer(fromPem("CERTIFICATE", pem)), Tag.SEQUENCE, "certificate"),
    );
    const fields = children(expect(tbs, Tag.SEQUENCE, "tbsCertificate"));
    // The version is [0] EXPLICIT and optional (v1 certificates leave it out).
    const body = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
    const [, , , validity, subject, spki, ...rest] = body;
    const [notBefore, notAfter] = children(expect(validity, Tag.SEQUENCE, "validity"));
    let dnsNames: string[] = [];
    let isCa = false;
    let keyId: Uint8Array | null = null;
    const extensions = rest.find((field) => field.tag === 0xa3);
    if (extensions !== undefined) {
      const [list] = children(extensions);
      for (const ext of children(list)) {
        const parts = children(ext);
        const id = readOid(parts[0]);
        const value = readDer(
          expect(parts[parts.length - 1], Tag.OCTET_STRING, "extension").contents,
        );
        if (id === OID.subjectAltName) dnsNames = generalDnsNames(value);
        if (id === OID.basicConstraints) {
          const flags = children(value);
          isCa = flags[0]?.tag === Tag.BOOLEAN && flags[0].contents[0] !== 0;
        }
        if (id === OID.subjectKeyIdentifier) {
          keyId = expect(value, Tag.OCTET_STRING, "key id").contents;
        }
      }
    }
    return {
      subject: expect(subject, Tag.SEQUENCE, "subject").encoded,
      commonName: commonNameOf(subject),
      publicKey: expect(spki, Tag.SEQUENCE, "subject public key").encoded,
      dnsNames,
      isCa,
      notBefore: readTime(notBefore),
      notAfter: readTime(notAfter),
      keyId,
    };
  });
}

/** Whether `certPem` carries a valid signature of `ca`'s key. */
export function isSignedBy(certPem: string, ca: CertificateAuthority): boolean {
  try {
    const [tbs, algorithm, signature] = children(readDer(fromPem("CERTIFICATE", certPem)));
    checkSignature(tbs.encoded, algorithm, signature, ca.key.publicKey, "certificate");
    return true;
  } catch {
    return false;
  }
}

function checkSignature(
  signedBytes: Uint8Array,
  algorithm: DerValue,
  signature: DerValue,
  spki: Uint8Array,
  what: string,
): void {
  const algorithmId = readOid(children(expect(algorithm, Tag.SEQUENCE, "signature algorithm"))[0]);
  const hash = algorithmId === OID.ecdsaWithSha256
    ? "sha256"
    : algorithmId === OID.ecdsaWithSha384
    ? "sha384"
    : algorithmId === OID.ed25519
    ? null
    : undefined;
  if (hash === undefined) {
    throw new X509Error(`${what} signature algorithm ${algorithmId} is not supported`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (error) {
    throw new X509Error(`${what} public key is unusable: ${(error as Error).message}`);
  }
  if (!verify(hash, signedBytes, key, readBitString(signature))) {
    throw new X509Error(`${what} signature does not verify`);
  }
}

function sanDnsNames(extensions: DerValue): string[] {
  const names: string[] = [];
  for (const ext of children(extensions)) {
    const parts = children(ext);
    if (readOid(parts[0]) !== OID.subjectAltName) continue;
    names.push(
      ...generalDnsNames(
        readDer(expect(parts[parts.length - 1], Tag.OCTET_STRING, "extension").contents),
      ),
    );
  }
  return names;
}

/** The dNSName entries ([2] IMPLICIT IA5String) of GeneralNames. */
function generalDnsNames(value: DerValue): string[] {
  return children(expect(value, Tag.SEQUENCE, "general names"))
    .filter((entry) => entry.tag === 0x82)
    .map((entry) => new TextDecoder().decode(entry.contents));
}

function commonNameOf(subject: DerValue | undefined): string | null {
  if (subject === undefined) return null;
  for (const rdn of children(expect(subject, Tag.SEQUENCE, "name"))) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      if (readOid(type) === OID.commonName) return new TextDecoder().decode(value.contents);
    }
  }
  return null;
}

function readTime(value: DerValue | undefined): Date {
  if (value === undefined) throw new DerError("validity time is missing");
  const text = new TextDecoder().decode(value.contents);
  const match = value.tag === Tag.UTC_TIME
    ? text.match(/^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/)
    : text.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/);
  if (match === null) throw new DerError(`validity time "${text}"`);
  let year = Number(match[1]);
  if (value.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = match.slice(2).map(Number);
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

/** A host name TLS can check: letters, digits and hyphens in dot-separated labels. */
function checkDnsName(dnsName: string): void {
  const label = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (dnsName.length > 253 || !dnsName.split(".").every((part) => label.test(part))) {
    throw new X509Error(`"${dnsName}" is not a DNS name`);
  }
}

function wrapDer<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof X509Error) throw error;
    if (error instanceof DerError || error instanceof TypeError) {
      throw new X509Error(error.message);
    }
    throw error;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
