import { useEffect, useState } from "preact/hooks";
import { call, Problem } from "../api";
import { useSession } from "../app";
import { save } from "../attachments";
import type { Receipt } from "../api";
import { LogRewritten, receiptSummary, verifyReceipt } from "../log";
import { fill, m } from "../messages";
import { ErrorSummary, Notice, When, say, type FieldError, type Text } from "../ui";

/// The account's receipts: what each proves, to download (the files `iro-advice receipt
/// verify` reads) and to verify here.
export function Receipts() {
  const s = useSession();
  const [receipts, setReceipts] = useState<Receipt[] | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: Text } | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);

  useEffect(() => {
    call<Receipt[]>("GET", "/api/v1/me/receipts")
      // Those waiting for the log's next publication first, then the newest.
      .then((all) => setReceipts([...all].sort((a, b) => (b.leaf_index ?? Infinity) - (a.leaf_index ?? Infinity))))
      .catch((e) => setErrors([{ field: "receipts", text: e instanceof Problem ? e.plain : String(e) }]));
  }, []);

  const verify = async (r: Receipt, index: number) => {
    try {
      const { size, newest } = await verifyReceipt(r);
      setResult({ ok: true, text: () => fill(m.receiptVerified, { index, size, newest }) });
    } catch (e) {
      if (e instanceof LogRewritten) return s.alarm(e);
      const why = e instanceof Error ? e.message : String(e);
      setResult({ ok: false, text: () => fill(m.receiptFailed, { index, why }) });
    }
  };

  return (
    <>
      <ErrorSummary errors={errors} />
      {result && (result.ok ? <Notice success>{say(result.text)}</Notice> : <div class="notice notice-warning" role="alert">{say(result.text)}</div>)}
      <h1>{m.receiptsTitle}</h1>
      <p class="lede">{m.receiptsIntro}</p>
      <div id="receipts">
        {receipts?.length === 0 && <p>{m.receiptsEmpty}</p>}
        {receipts && receipts.length > 0 && (
          <table class="table">
            <caption class="visually-hidden">{m.receiptsTitle}</caption>
            <thead>
              <tr>
                <th scope="col">{m.columnWhat}</th>
                <th scope="col">{m.columnWhen}</th>
                <th scope="col">
                  <span class="visually-hidden">{m.actions}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {receipts.map((r) => {
                const summary = receiptSummary(r);
                const index = r.leaf_index;
                return (
                  <tr key={r.leaf_data}>
                    <td>
                      {m.eventKinds[summary.kind] ?? `#${summary.kind}`}
                      <p class="hint">{index == null ? m.receiptPending : fill(m.receiptEntry, { index })}</p>
                    </td>
                    <td>
                      <When at={summary.at} time />
                    </td>
                    <td>
                      {index != null && (
                        <>
                          <button type="button" class="link-button" onClick={() => verify(r, index)}>
                            {fill(m.receiptVerify, { index })}
                          </button>
                          <br />
                          <button type="button" class="link-button" onClick={() => save(new Blob([JSON.stringify(r, null, 2)], { type: "application/json" }), `receipt-${index}.json`)}>
                            {fill(m.receiptDownload, { index })}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}
