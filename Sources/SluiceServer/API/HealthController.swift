import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// `GET /health` and `GET /health.json`: whether the server, its database and its blob storage answer.
struct HealthController: Sendable {
    let services: SluiceServices

    func addRoutes(to router: Router<SluiceRequestContext>) {
        router.get("health", use: health)
        router.head("health", use: health)
        router.get("health.json", use: healthJSON)
        router.head("health.json", use: healthJSON)
    }

    /// `GET /health` → `OK` as text/plain (503 `ERROR` when a check fails); with `Accept: application/json` the JSON
    /// of ``healthJSON(request:context:)``.
    @Sendable func health(request: Request, context: SluiceRequestContext) async throws -> Response {
        let accept = request.headers[.accept]?.lowercased() ?? ""
        if accept.contains("application/json") {
            return try await healthJSON(request: request, context: context)
        }
        let healthy = await check(context: context).allSatisfy(\.value)
        let text = healthy ? "OK\n" : "ERROR\n"
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(
            status: healthy ? .ok : .serviceUnavailable, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `GET /health.json` → `{"status":"ok","version":"...","database":"ok","blobStorage":"ok"}`, or 503 with
    /// `"error"` in `status` and in the part that failed.
    @Sendable func healthJSON(request: Request, context: SluiceRequestContext) async throws -> Response {
        let results = await check(context: context)
        let healthy = results.allSatisfy(\.value)
        var body: [String: JSONValue] = [
            "status": .string(healthy ? "ok" : "error"),
            "version": .string(SluiceVersion.current),
        ]
        for (name, ok) in results {
            body[name] = .string(ok ? "ok" : "error")
        }
        var response = JSONResponse.make(.object(body), status: healthy ? .ok : .serviceUnavailable)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func check(context: SluiceRequestContext) async -> [String: Bool] {
        var results: [String: Bool] = [:]
        do {
            try await services.metadata.ping()
            results["database"] = true
        } catch {
            context.logger.error("Health check: the database does not answer", metadata: ["error": "\(error)"])
            results["database"] = false
        }
        do {
            try await services.blobs.ping()
            results["blobStorage"] = true
        } catch {
            context.logger.error("Health check: the blob storage does not answer", metadata: ["error": "\(error)"])
            results["blobStorage"] = false
        }
        return results
    }
}
