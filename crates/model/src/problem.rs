//! Every kind of problem the API reports (RFC 9457 `type`s): the closed set a client may match
//! on, shared by the server that answers with them and the clients that read them.

/// The full `type` URI of a problem slug.
pub fn problem_type(slug: &str) -> String {
    format!("urn:iro-advice:problem:{slug}")
}

macro_rules! problem_types {
    ($($variant:ident = $slug:literal, $title:literal;)*) => {
        /// Every kind of problem the API reports: the closed set of `type`s a client may
        /// match on. A slug never changes once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ProblemType {
            $($variant,)*
        }

        impl ProblemType {
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant,)*];

            /// The last segment of the problem `type`.
            pub fn slug(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $slug,)*
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(ProblemType::$variant => $title,)*
                }
            }

            /// The full `type` URI.
            pub fn uri(self) -> String {
                problem_type(self.slug())
            }
        }
    };
}

problem_types! {
    NotFound = "not-found", "Not found";
    MethodNotAllowed = "method-not-allowed", "Method not allowed";
    BadRequest = "bad-request", "Bad request";
    InvalidJson = "invalid-json", "Invalid JSON body";
    PayloadTooLarge = "payload-too-large", "Request body too large";
    UnsupportedMediaType = "unsupported-media-type", "Unsupported media type";
    ServiceUnavailable = "service-unavailable", "Service unavailable";
    Unauthenticated = "unauthenticated", "Authentication required";
    Forbidden = "forbidden", "Forbidden";
    SecondFactorEnrolmentRequired = "second-factor-enrolment-required", "Second factor enrolment required";
    AwaitingApproval = "awaiting-approval", "Waiting for an administrator's approval";
    TooManyAttempts = "too-many-attempts", "Too many attempts";
    Internal = "internal", "Internal error";
    NotAge = "not-age", "Not an acceptable age file";
    WeakPassword = "weak-password", "Password too weak";
    InvalidInvitation = "invalid-invitation", "Invalid invitation";
    AccountExists = "account-exists", "Account exists";
    CannotChangeOwnStatus = "cannot-change-own-status", "Cannot change own status";
    TotpAlreadyEnabled = "totp-already-enabled", "TOTP already enabled";
    TotpNotStarted = "totp-not-started", "TOTP enrolment not started";
    TotpCodeInvalid = "totp-code-invalid", "TOTP code invalid";
    AdviserNotEligible = "adviser-not-eligible", "Adviser not eligible";
    MessagesMismatch = "messages-mismatch", "Messages do not match the query";
    QueryState = "query-state", "Not possible in the query's state";
    UploadIncomplete = "upload-incomplete", "Upload incomplete";
    QuotaExceeded = "quota-exceeded", "Storage quota exceeded";
    UploadTimeout = "upload-timeout", "Upload stalled";
    InvalidDate = "invalid-date", "Invalid date";
    NairoRecipientUnset = "nairo-recipient-unset", "No NAIRO key configured";
    InvalidProofRequest = "invalid-proof-request", "Invalid proof request";
    InvalidStatisticsRequest = "invalid-statistics-request", "Invalid statistics request";
    NotWitnessed = "log-not-witnessed", "No checkpoint cosigned by the witnesses yet";
    AgeNotX25519 = "age-not-x25519", "Not encrypted to age X25519 recipients only";
    AgePlaintextPayload = "age-plaintext-payload", "The age payload is not ciphertext";
    AgeTooFewRecipients = "age-too-few-recipients", "Not encrypted to exactly one stanza per reader";
    WeakWrappedIdentity = "weak-wrapped-identity", "The wrapped identity is not strongly wrapped";
    StepUpRequired = "step-up-required", "A fresh second-factor code is required";
    InvalidCredentials = "invalid-credentials", "Wrong email or password";
    SecondFactorRequired = "second-factor-required", "A second-factor code is required";
    SecondFactorInvalid = "second-factor-invalid", "Wrong or already used second-factor code";
    AccountSuspended = "account-suspended", "Account suspended";
    PasskeyInvalid = "passkey-invalid", "The passkey's answer does not verify";
    PasskeyExists = "passkey-exists", "Passkey already registered";
    LastSecondFactor = "last-second-factor", "The account's only second factor";
    AttachmentAlreadyRead = "attachment-already-read", "The attachment has been read and cannot be replaced";
    CrossSiteRequest = "cross-site-request", "Refused: not sent by the web application";
    AlreadyApproved = "already-approved", "The account is already approved";
    UploadOffset = "upload-offset", "The segment does not continue the upload";
    InvalidVerification = "invalid-verification", "Not a check this account can have";
    InvalidSignature = "invalid-signature", "The signature is not the author's key's";
    QueryNotAsLogged = "query-not-as-logged", "The query's record is not what the log holds";
}
