// What this device keeps between visits, in IndexedDB: the passphrase-wrapped identity of
// each account that set up or unlocked here, so unlocking again needs only the passphrase.
// Nothing here is readable without it.

const DB = "iro-advice";
const STORE = "wrapped-identities";
/// The log's pinned keys, the newest checkpoint seen, and correspondents' pinned keys.
const TRUST = "trust";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      for (const name of [STORE, TRUST]) if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>, store = STORE): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const req = f(db.transaction(store, mode).objectStore(store));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function keptWrapped(account: string): Promise<string | undefined> {
  try {
    return await tx("readonly", (s) => s.get(account) as IDBRequest<string | undefined>);
  } catch {
    return undefined;
  }
}

export async function keepWrapped(account: string, wrapped: string): Promise<void> {
  await tx("readwrite", (s) => s.put(wrapped, account)).catch(() => undefined);
}

export async function kvGet<T>(key: string): Promise<T | undefined> {
  return tx("readonly", (s) => s.get(key) as IDBRequest<T | undefined>, TRUST);
}

export async function kvPut(key: string, value: unknown): Promise<void> {
  await tx("readwrite", (s) => s.put(value, key), TRUST);
}

export async function kvDelete(key: string): Promise<void> {
  await tx("readwrite", (s) => s.delete(key), TRUST);
}

/// An act's receipt, kept in this browser until a checkpoint the pinned witnesses cosigned
/// includes it (see log.ts): an act erased before this browser saw it witnessed is caught
/// from its receipt.
export interface KeptReceipt {
  kept_at: number;
  receipt: { leaf_index?: number | null; leaf_data: string };
}

export async function keepReceipt(receipt: KeptReceipt["receipt"]): Promise<void> {
  const kept = (await kvGet<KeptReceipt[]>("kept-receipts").catch(() => undefined)) ?? [];
  if (kept.some((k) => k.receipt.leaf_data === receipt.leaf_data)) return;
  kept.push({ kept_at: Date.now(), receipt });
  await kvPut("kept-receipts", kept).catch(() => undefined);
}
