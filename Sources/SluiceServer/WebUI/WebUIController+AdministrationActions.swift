import Foundation
import Hummingbird
import SluiceCore

/// The forms of the administration pages. Each one calls the security management API's handler (same validation,
/// same `access.securityChanged()`, same event log entry), then goes back to its page with the outcome.
extension WebUIController {
    func addAdministrationActions(to ui: RouterGroup<SluiceRequestContext>) {
        let security = SecurityManagementController(services: services)
        let keys = APIKeyController(services: services)

        ui.post("admin/users/create") { _, context in
            let form = WebUIRequest.form
            var body: [String: JSONValue] = [
                "name": .string(form["name"] ?? ""), "password": .string(form.raw("password") ?? ""),
            ]
            if let displayName = form["displayName"] { body["displayName"] = .string(displayName) }
            if let email = form["email"] { body["email"] = .string(email) }
            return try await act(back: "/ui/admin/users", done: "Created user '\(form["name"] ?? "")'.") {
                try await APIBridge.call(
                    security.createUser, path: "/api/security/users/create", body: .object(body),
                    context: apiContext(context))
            }
        }
        ui.post("admin/users/delete") { _, context in
            let name = WebUIRequest.form["name"] ?? ""
            return try await act(back: "/ui/admin/users", done: "Deleted user '\(name)'.") {
                let answer = try await APIBridge.call(
                    security.deleteUser, path: "/api/security/users/delete/\(name)", parameters: ["name": name],
                    context: apiContext(context))
                await sessions.deleteSessions(ofUser: name)
                return answer
            }
        }
        ui.post("admin/groups/create") { _, context in
            let form = WebUIRequest.form
            let body: JSONValue = .object([
                "name": .string(form["name"] ?? ""), "description": .string(form["description"] ?? ""),
                "members": .array(form.all("members").map(JSONValue.string)),
            ])
            return try await act(back: "/ui/admin/groups", done: "Created group '\(form["name"] ?? "")'.") {
                try await APIBridge.call(
                    security.createGroup, path: "/api/security/groups/create", body: body, context: apiContext(context))
            }
        }
        for (action, verb) in [("add-member", "Added"), ("remove-member", "Removed")] {
            ui.post("admin/groups/\(action)") { _, context in
                let form = WebUIRequest.form
                let group = form["name"] ?? ""
                let user = form["user"] ?? ""
                let handler = action == "add-member" ? security.addMember : security.removeMember
                return try await act(
                    back: "/ui/admin/groups",
                    done: "\(verb) '\(user)' \(action == "add-member" ? "to" : "from") group '\(group)'."
                ) {
                    try await APIBridge.call(
                        handler, path: "/api/security/groups/\(action)/\(group)",
                        body: .object(["user": .string(user)]), parameters: ["name": group],
                        context: apiContext(context))
                }
            }
        }
        ui.post("admin/groups/delete") { _, context in
            let name = WebUIRequest.form["name"] ?? ""
            return try await act(back: "/ui/admin/groups", done: "Deleted group '\(name)'.") {
                try await APIBridge.call(
                    security.deleteGroup, path: "/api/security/groups/delete/\(name)", parameters: ["name": name],
                    context: apiContext(context))
            }
        }
        ui.post("admin/permissions/add") { _, context in
            let form = WebUIRequest.form
            var principal: [String: JSONValue] = ["kind": .string(form["kind"] ?? "")]
            if let name = form["name"], ["user", "group"].contains(form["kind"] ?? "") {
                principal["name"] = .string(name)
            }
            var body: [String: JSONValue] = [
                "principal": .object(principal), "task": .string(form["task"] ?? ""),
                "type": .string(form["type"] ?? "permission"),
            ]
            if let feed = form["feed"] { body["feed"] = .string(feed) }
            let type = form["type"] == "restriction" ? "restriction" : "permission"
            return try await act(back: "/ui/admin/permissions", done: "Added the \(type).") {
                try await APIBridge.call(
                    security.addPrivilege, path: "/api/security/privileges/add", body: .object(body),
                    context: apiContext(context))
            }
        }
        ui.post("admin/permissions/delete") { _, context in
            let id = WebUIRequest.form["id"] ?? ""
            return try await act(back: "/ui/admin/permissions", done: "Removed privilege #\(id).") {
                try await APIBridge.call(
                    security.deletePrivilege, path: "/api/security/privileges/delete/\(id)", parameters: ["id": id],
                    context: apiContext(context))
            }
        }
        ui.post("admin/anonymous") { _, context in
            let enabled = WebUIRequest.form["enabled"] == "true"
            return try await act(
                back: "/ui/admin/permissions",
                done: enabled
                    ? "Anonymous users may view and download packages again."
                    : "Anonymous access removed: every feed is private now."
            ) {
                try await APIBridge.call(
                    security.setAnonymous, path: "/api/security/anonymous", body: .object(["enabled": .bool(enabled)]),
                    context: apiContext(context))
            }
        }
        ui.post("admin/api-keys/create") { _, context in
            let form = WebUIRequest.form
            var body: [String: JSONValue] = ["type": .string(form["type"] ?? "personal")]
            for field in ["displayName", "description", "user", "expires"] {
                if let value = form[field] { body[field] = .string(value) }
            }
            if let custom = form.raw("key") { body["key"] = .string(custom) }
            if form["type"] == "feed" {
                body["feeds"] = .array(form.all("feeds").map(JSONValue.string))
                body["permissions"] = .array(form.all("permissions").map(JSONValue.string))
            }
            let answer: (status: HTTPResponse.Status, json: JSONValue)
            do {
                answer = try await APIBridge.call(
                    keys.create, path: "/api/api-keys/create", body: .object(body), context: apiContext(context))
            } catch let error as SluiceError where error.code != .forbidden && error.code != .unauthenticated {
                return try await apiKeysView(created: nil, flash: .error(error.message))
            }
            // The key text is in this one answer only (never stored, never logged); the page is not cached.
            let text = answer.json.objectValue?["key"]?.stringValue ?? ""
            let name = answer.json.objectValue?["displayName"]?.stringValue ?? "the key"
            return try await apiKeysView(created: text, flash: .ok("Created \(name)."))
        }
        ui.post("admin/api-keys/delete") { _, context in
            let id = WebUIRequest.form["id"] ?? ""
            return try await act(back: "/ui/admin/api-keys", done: "Deleted API key #\(id).") {
                try await APIBridge.call(
                    keys.delete, path: "/api/api-keys/delete/\(id)", parameters: ["id": id],
                    context: apiContext(context))
            }
        }
    }

    /// Runs one API call of a form and goes back to `back` with `done`, or with the API's message when it refused
    /// the input; 401/403 stay errors (the middleware shows them).
    func act(
        back: String, done: String, _ call: () async throws -> (status: HTTPResponse.Status, json: JSONValue)
    ) async throws -> Response {
        do {
            _ = try await call()
            return await redirect(back, flash: .ok(done))
        } catch let error as SluiceError where error.code != .forbidden && error.code != .unauthenticated {
            return await redirect(back, flash: .error(error.message))
        }
    }
}
