// Every string the application shows, in one catalogue, so that adding Welsh is adding a
// language here and nothing else. `{name}` marks where a value goes.

export const en = {
  service: "IRO Advice",
  skip: "Skip to main content",
  signOut: "Sign out",
  errorSummary: "There is a problem",
  continue: "Continue",
  back: "Back",
  loading: "Loading…",
  working: "Please wait…",
  required: "Enter {field}",

  // sign in
  signInTitle: "Sign in",
  email: "Email address",
  password: "Password",
  totpCode: "Code from your authenticator app",
  totpHint: "The 6-digit code your authenticator app shows now.",
  signIn: "Sign in",
  signedOutIdle: "You were signed out after 15 minutes without activity. Your key was forgotten on this device.",
  signedOut: "You have signed out. Your key was forgotten on this device.",
  accountReady: "Your account is ready. Sign in to continue.",

  // invitation
  openTitle: "Create your account",
  openIntro: "You have been invited to IRO Advice. Choose the name advisers will see and a password.",
  openNoToken: "This link is incomplete. Open the link from your invitation email again, in full.",
  invitationCode: "Invitation code",
  invitationCodeHint: "The 10-character code the person who invited you gave you separately, for example by phone. It is not in the email. For example, 7KQ2M-X9D4P.",
  invitationCodeInvalid: "Enter the 10-character invitation code, for example 7KQ2M-X9D4P",
  displayName: "Your name",
  displayNameHint: "As you would sign a letter, for example Sam Patel.",
  newPassword: "Password",
  newPasswordHint: "At least 12 characters. A few unrelated words is easy to remember and hard to guess.",
  passwordTooShort: "Your password must be at least 12 characters",
  confirmPassword: "Confirm password",
  passwordsDiffer: "The passwords do not match",
  notificationEmail: "Email for notices (optional)",
  notificationEmailHint: "A personal address if your work email is read by others. Notices never contain case details.",
  createAccount: "Create account",

  // second factor
  totpTitle: "Set up your authenticator app",
  totpIntro: "You need a second step to sign in and to unlock your key on a new device. Scan this code with an authenticator app (such as Microsoft Authenticator or Google Authenticator), or type the key into it.",
  totpKey: "Key to type in",
  totpConfirm: "Enter the code it shows",
  totpQrAlt: "QR code to add IRO Advice to your authenticator app",

  // key
  keyTitle: "Set up your encryption key",
  keyIntro: "Your questions and replies are encrypted in this page with a key only you hold. We keep a copy locked with a passphrase you choose; we cannot unlock it.",
  passphrase: "Key passphrase",
  passphraseHint: "Different from your password. At least 5 unrelated words. If you lose it and your recovery file, nobody can read your past messages.",
  confirmPassphrase: "Confirm key passphrase",
  passphrasesDiffer: "The passphrases do not match",
  passphraseTooShort: "The passphrase must be at least 20 characters",
  createKey: "Create my key",
  keyCreating: "Creating and locking your key. This takes a few seconds…",
  recoveryTitle: "Save your recovery file",
  recoveryIntro: "This file unlocks everything sent to you. Save it somewhere offline that only you can reach, such as a USB stick kept locked away. Do not email it.",
  recoveryDownload: "Download recovery file",
  recoverySaved: "I have saved my recovery file",
  fingerprint: "Your key's fingerprint",

  // unlock
  unlockTitle: "Unlock your key",
  unlockIntro: "Enter your key passphrase to read and send messages.",
  unlockNewDevice: "This device has no copy of your key yet. Enter a new code from your authenticator app to fetch the locked copy.",
  unlock: "Unlock",
  unlockFailed: "That passphrase does not unlock your key",

  // inbox
  inboxTitle: "Your queries",
  inboxEmpty: "You have no queries yet.",
  askNew: "Ask an adviser",
  reportPressure: "Report pressure",
  waitingPast: "Waiting past the reminder time: you can ask someone else",
  columnAdviser: "Adviser",
  columnIro: "IRO",
  columnTopic: "Topic",
  columnStatus: "Status",
  columnStarted: "Started",

  // ask
  askTitle: "Ask an adviser",
  adviser: "Adviser",
  adviserHint: "Advisers outside your authority who are accepting questions. The number is how many open queries they have.",
  noAdvisers: "No adviser can take a question from you at the moment.",
  openQueries: "{count} open",
  category: "What is it about?",
  stage: "How far has your challenge gone?",
  urgency: "How urgent is it?",
  question: "Your question",
  questionHint: "Do not include children's names. Describe the child by age and circumstances.",
  send: "Send question",
  nameCheckTitle: "Check for names",
  nameCheck: "Your question may contain a name: {names}. Advisers do not need children's names. Change it, or confirm it is not a child's name.",
  nameCheckConfirm: "These are not children's names",
  sent: "Your question was sent, encrypted, to {adviser}.",

  // pressure reports
  pressureTitle: "Report pressure",
  pressureIntro: "Record being discouraged from seeking advice, or other pressure about your work. It goes into the tamper-evident log: you get a receipt that proves when you reported it.",
  pressureKind: "What happened?",
  pressureDate: "When did it happen?",
  pressureDateHint: "For example, 27 3 2026",
  day: "Day",
  month: "Month",
  year: "Year",
  pressureDateInvalid: "Enter the date it happened, not in the future",
  narrative: "What happened, in your words (optional)",
  narrativeHint: "Encrypted in this page. Only you can read it, and NAIRO too if you share it. Do not name children.",
  shareWithNairo: "Share this report with NAIRO",
  shareHint: "NAIRO sees the kind, the date, your authority and the narrative; never your name.",
  shareUnavailable: "NAIRO has no key configured on this service, so reports cannot be shared with it yet.",
  sendReport: "Record report",
  reported: "Your report was recorded in the log at entry {index}.",
  kindsPressure: {
    discouraged_from_advice: "I was discouraged from seeking advice",
    refused_funding: "Funding for advice was refused",
    threatened_discipline: "I was threatened with discipline",
    told_to_use_authority_lawyers: "I was told to use the authority's own lawyers",
    escalation_blocked: "My escalation was blocked",
    other: "Something else",
  } as Record<string, string>,

  // thread
  threadTitle: "Query",
  messages: "Messages",
  fromYou: "You",
  fromIro: "IRO",
  fromAdviser: "Adviser",
  cannotDecrypt: "This message could not be decrypted with your key.",
  erased: "This message was erased under the retention policy.",
  reply: "Your reply",
  sendReply: "Send reply",
  accept: "Accept query",
  decline: "Decline query",
  declineReason: "Why are you declining?",
  declineReasonHint: "The IRO sees this. For example: conflict of interest, or no capacity this week.",
  close: "Close query",
  outcome: "Outcome",
  attachments: "Attachments",
  download: "Download",

  // vocabularies
  status: {
    submitted: "Waiting for the adviser",
    accepted: "Accepted",
    declined: "Declined",
    closed: "Closed",
  } as Record<string, string>,
  categories: {
    care_plan_drift: "Care plan drift",
    placement: "Placement",
    contact: "Contact",
    permanence: "Permanence",
    legal_status: "Legal status",
    cafcass_referral: "Referral to Cafcass",
    human_rights: "Human rights",
    dispute_resolution: "Dispute resolution",
    other: "Something else",
  } as Record<string, string>,
  stages: {
    none: "Not raised yet",
    informal: "Raised informally",
    formal: "Formal dispute resolution",
    senior_management: "Senior management",
    dcs: "Director of Children's Services",
    cafcass: "Referred to Cafcass",
  } as Record<string, string>,
  urgencies: {
    routine: "Routine",
    urgent: "Urgent: a decision is due within days",
  } as Record<string, string>,
  outcomes: {
    advice_given: "Advice given",
    resolved_informally: "Resolved informally",
    escalated: "Escalated",
    referred_to_cafcass: "Referred to Cafcass",
    withdrawn: "Withdrawn",
  } as Record<string, string>,
  kinds: { solicitor: "Solicitor", peer: "Peer adviser" } as Record<string, string>,

  // errors from the service, by problem type
  problems: {
    "invalid-credentials": "Your email address or password is wrong",
    "second-factor-required": "Enter the code from your authenticator app",
    "second-factor-invalid": "That code is wrong or was already used. Wait for the next one",
    "account-suspended": "Your account is suspended. Contact your administrator",
    "too-many-attempts": "Too many attempts. Wait a few minutes and try again",
    "invalid-invitation": "This invitation has expired or was already used. Ask for a new one",
    "step-up-required": "Enter a new code from your authenticator app",
    "weak-password": "Choose a longer password: {detail}",
    "totp-code-invalid": "That code is wrong. Check the time on your phone and enter the code it shows now",
    "adviser-not-eligible": "That adviser cannot take your question now. Choose another",
    "invalid-date": "Enter the date it happened, not in the future",
    "nairo-recipient-unset": "NAIRO has no key on this service, so the report cannot be shared",
    "query-state": "That is no longer possible: the query has changed. Reload the page",
    "account-exists": "An account already exists for this invitation. Sign in instead",
    network: "The service cannot be reached. Check your connection and try again",
    other: "Something went wrong: {detail}",
  } as Record<string, string>,
};

export type Messages = typeof en;
export const m: Messages = en;

/// Puts values into a message: `fill(m.openQueries, {count: 3})`.
export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? ""));
}
