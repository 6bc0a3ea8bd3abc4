import { useMemo } from "preact/hooks";
import type { LogRewritten } from "../log";
import { m } from "../messages";

/// The one screen for "the service's log has been rewritten": nothing else works from here.
export function Alarm({ alarm }: { alarm: LogRewritten }) {
  const evidence = useMemo(() => {
    const text = `iro-advice: the service's request log was rewritten\n${new Date().toISOString()}\n${alarm.reason()}\n\n=== the checkpoint this browser held ===\n${alarm.held}\n=== the checkpoint the service served ===\n${alarm.served}`;
    return URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  }, [alarm]);
  return (
    <div class="alarm">
      <h1>{m.alarmTitle}</h1>
      <p class="lede">{m.alarmIntro}</p>
      <p>
        <strong>{alarm.reason()}</strong>
      </p>
      <p>{m.alarmWhat}</p>
      <p>
        <a class="button button-warning" href={evidence} download="iro-advice-log-evidence.txt">
          {m.alarmDownload}
        </a>
      </p>
      <p>{m.alarmNext}</p>
    </div>
  );
}
