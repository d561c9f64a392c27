import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Who is looking at a UI page: the session (nil when not signed in) and what they may do globally.
struct WebViewer: Sendable {
    /// The signed-in session, nil for an anonymous visitor.
    var session: WebSession?
    /// Whether the viewer holds Administer on all feeds (shows connectors and administration).
    var isAdministrator: Bool
    /// The value the hidden `csrf` field of this page's forms must carry: the session's token, or for an anonymous
    /// visitor the sign-in cookie's token (double submit).
    var csrfToken: String

    var isSignedIn: Bool { session != nil }
    var userName: String? { session?.userName }
    /// Who the viewer acts as: the session's user, or anonymous.
    var identity: Identity { session?.identity ?? .anonymous }

    /// An anonymous visitor.
    static let anonymous = WebViewer(session: nil, isAdministrator: false, csrfToken: "")
}

/// The fields of a posted UI form (`application/x-www-form-urlencoded`), keeping repeated fields (checkboxes).
struct WebForm: Sendable {
    private(set) var values: [(String, String)] = []

    /// The largest form accepted.
    static let maximumSize = 1 << 20

    init(values: [(String, String)] = []) {
        self.values = values
    }

    /// Parses a urlencoded body (`+` is a space).
    init(urlencoded text: String) {
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            values.append((decode(parts[0]), parts.count > 1 ? decode(parts[1]) : ""))
        }
    }

    /// The first value of `name`, trimmed; nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = values.first(where: { $0.0 == name })?.1.trimmingCharacters(in: .whitespacesAndNewlines),
            !value.isEmpty
        else { return nil }
        return value
    }

    /// The first value of `name` as sent (not trimmed; passwords), nil when absent or empty.
    func raw(_ name: String) -> String? {
        guard let value = values.first(where: { $0.0 == name })?.1, !value.isEmpty else { return nil }
        return value
    }

    /// Every non-empty value of `name` (checkboxes, multi-selects), trimmed.
    func all(_ name: String) -> [String] {
        values.filter { $0.0 == name }.map { $0.1.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
    }

    /// Whether a checkbox named `name` was ticked.
    func isChecked(_ name: String) -> Bool {
        values.contains { $0.0 == name && $0.1 != "false" && $0.1 != "" }
    }
}

/// The current request's viewer and posted form, set by ``WebUIMiddleware`` for the handlers under `/ui`.
enum WebUIRequest {
    @TaskLocal static var viewer: WebViewer = .anonymous
    @TaskLocal static var form: WebForm = WebForm()
}

/// The cookies of a request.
enum WebCookies {
    /// The value of cookie `name` in the `Cookie` header(s), if any.
    static func value(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { continue }
                if pair[0].trimmingCharacters(in: .whitespaces) == name {
                    return pair[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// Whether the request reached Sluice over TLS: `X-Forwarded-Proto: https` from a reverse proxy, or an https URL.
    static func isSecure(_ request: Request) -> Bool {
        if let proto = request.headers[HTTPField.Name("X-Forwarded-Proto")!] {
            return proto.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        }
        return request.head.scheme?.lowercased() == "https"
    }

    /// A `Set-Cookie` value for a cookie of the UI: HttpOnly, SameSite=Lax, Path=/ui, Secure over TLS; `maxAge` 0
    /// deletes it.
    static func setCookie(_ name: String, value: String, request: Request, maxAge: Int? = nil) -> String {
        var text = "\(name)=\(value); Path=/ui; HttpOnly; SameSite=Lax"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if isSecure(request) { text += "; Secure" }
        return text
    }
}
