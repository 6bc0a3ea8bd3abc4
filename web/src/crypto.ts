// Encryption in the page, with age's own TypeScript implementation. The identity (the
// secret key) exists in clear only in this module's memory while unlocked; the service gets
// it only wrapped with a passphrase, as the command-line client wraps it.

import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient, webauthn } from "age-encryption";
import { kvDelete, kvGet, kvPut } from "./store";

/// The scrypt work factor of a wrapped identity: the service accepts 18 to 22.
const WRAP_WORK_FACTOR = 18;

let unlocked: string | null = null;

export function identity(): string | null {
  return unlocked;
}

export function forget() {
  unlocked = null;
}

export async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const id = await generateX25519Identity();
  return { identity: id, recipient: await identityToRecipient(id) };
}

/// A standard age identity file, as `age-keygen` writes and the command-line client reads.
export function identityFile(id: string, recipient: string): string {
  const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return `# created: ${created}\n# public key: ${recipient}\n${id}\n`;
}

export function secretFrom(file: string): string {
  const line = file.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!line) throw new Error("no age identity in the file");
  return line.trim();
}

export async function wrap(file: string, passphrase: string): Promise<string> {
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  e.setScryptWorkFactor(WRAP_WORK_FACTOR);
  return armor.encode(await e.encrypt(file));
}

/// Unlocks a wrapped identity, keeping it for this page's life; throws on a wrong passphrase.
export async function unlock(wrapped: string, passphrase: string): Promise<string> {
  const d = new Decrypter();
  d.addPassphrase(passphrase);
  const file = await d.decrypt(armor.decode(wrapped), "text");
  unlocked = secretFrom(file);
  return unlocked;
}

export function adopt(id: string) {
  unlocked = id;
}

export async function recipientOf(id: string): Promise<string> {
  return identityToRecipient(id);
}

export async function encryptText(text: string, recipients: string[]): Promise<string> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return armor.encode(await e.encrypt(text));
}

export async function decryptText(armored: string): Promise<string> {
  if (!unlocked) throw new Error("locked");
  const d = new Decrypter();
  d.addIdentity(unlocked);
  return d.decrypt(armor.decode(armored), "text");
}

/// Decrypts with a key held apart from the account's (NAIRO's organisation key, read from
/// its file for this page only), trying the account's own unlocked key as well.
export async function decryptTextWith(armored: string, others: string[]): Promise<string> {
  const d = new Decrypter();
  for (const id of others) d.addIdentity(id);
  if (unlocked) d.addIdentity(unlocked);
  return d.decrypt(armor.decode(armored), "text");
}

/// A short form of a public key to read aloud, exactly as the command-line client prints it:
/// the first 80 bits of its SHA-256, in five groups of four hex digits.
export async function fingerprint(recipient: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(recipient)));
  const hex = Array.from(digest.slice(0, 10), (b) => b.toString(16).padStart(2, "0").toUpperCase()).join("");
  return hex.match(/.{4}/g)!.join(" ");
}

/// This device's second locked copy of the key, sealed to a passkey through WebAuthn's PRF
/// extension (age's `fido2prf` recipient): unlocking it needs the passkey and its user
/// verification, and nothing a thief could guess offline. It never leaves this browser; the
/// service keeps only the passphrase-wrapped copy.
interface PasskeySealed {
  credential: string;
  sealed: Uint8Array;
}

const sealedKey = (account: string) => `passkey-unlock:${account}`;

export async function passkeyUnlockEnabled(account: string): Promise<boolean> {
  return (await kvGet<PasskeySealed>(sealedKey(account)).catch(() => undefined)) !== undefined;
}

/// Makes a passkey for this device and seals the unlocked key to it.
export async function enablePasskeyUnlock(account: string): Promise<void> {
  if (!unlocked) throw new Error("locked");
  const credential = await webauthn.createCredential({ keyName: "IRO Advice: unlock on this device" });
  const e = new Encrypter();
  e.addRecipient(new webauthn.WebAuthnRecipient({ identity: credential }));
  await kvPut(sealedKey(account), { credential, sealed: await e.encrypt(unlocked) } satisfies PasskeySealed);
}

export async function disablePasskeyUnlock(account: string): Promise<void> {
  await kvDelete(sealedKey(account));
}

/// Unlocks with this device's passkey; the key must still be the account's.
export async function unlockWithPasskey(account: string, recipient: string): Promise<void> {
  const held = await kvGet<PasskeySealed>(sealedKey(account));
  if (!held) throw new Error("no passkey copy on this device");
  const d = new Decrypter();
  d.addIdentity(new webauthn.WebAuthnIdentity({ identity: held.credential }));
  const id = (await d.decrypt(held.sealed, "text")).trim();
  if ((await identityToRecipient(id)) !== recipient) throw new Error("another key");
  unlocked = id;
}
