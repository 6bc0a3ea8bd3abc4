import { useEffect, useState } from "preact/hooks";
import { call, Problem, type QuerySummary } from "../api";
import { useSession, watchLog } from "../app";
import { m } from "../messages";
import { ErrorSummary, Notice, When, asData, say, type FieldError } from "../ui";

export function Inbox() {
  const s = useSession();
  const [queries, setQueries] = useState<QuerySummary[] | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const iro = s.me?.role === "iro";

  useEffect(() => {
    watchLog(s);
    call<QuerySummary[]>("GET", "/api/v1/queries")
      .then(setQueries)
      .catch((e) => setErrors([{ field: "queries", text: e instanceof Problem ? e.plain : String(e) }]));
  }, []);

  return (
    <>
      <ErrorSummary errors={errors} />
      {s.notice && <Notice success>{say(s.notice)}</Notice>}
      <h1>{m.inboxTitle}</h1>
      {iro && (
        <p>
          <a class="button" href="#/ask">
            {m.askNew}
          </a>
          <a class="button button-secondary" href="#/pressure">
            {m.reportPressure}
          </a>
        </p>
      )}
      <div id="queries">
        {queries === null && !errors.length && <p>{m.loading}</p>}
        {queries?.length === 0 && <p>{m.inboxEmpty}</p>}
        {queries && queries.length > 0 && (
          <table class="table">
            <caption class="visually-hidden">{m.inboxTitle}</caption>
            <thead>
              <tr>
                <th scope="col">{m.columnTopic}</th>
                <th scope="col">{iro ? m.columnAdviser : m.columnIro}</th>
                <th scope="col">{m.columnStatus}</th>
                <th scope="col">{m.columnStarted}</th>
              </tr>
            </thead>
            <tbody>
              {queries.map((q) => (
                <tr key={q.id}>
                  <td>
                    <a href={`#/queries/${q.id}`}>{m.categories[q.category] ?? q.category}</a>
                    {q.urgency === "urgent" && <strong class="tag tag-urgent">{m.urgentTag}</strong>}
                  </td>
                  <td {...asData}>{iro ? q.adviser_name : q.iro_name}</td>
                  <td>
                    {m.status[q.status] ?? q.status}
                    {iro && q.waited_past_reminder && <p class="hint">{m.waitingPast}</p>}
                  </td>
                  <td>
                    <When at={q.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}
