// What this device keeps between visits, in IndexedDB: the passphrase-wrapped identity of
// each account that set up or unlocked here, so unlocking again needs only the passphrase.
// Nothing here is readable without it.

const DB = "iro-advice";
const STORE = "wrapped-identities";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  return new Promise((resolve, reject) => {
    const req = f(db.transaction(STORE, mode).objectStore(STORE));
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
