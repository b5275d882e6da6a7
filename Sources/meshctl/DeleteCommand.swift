import ArgumentParser

/// `meshctl delete -f FILE...` or `meshctl delete KIND NAME...`: deletes config resources.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete resources named in files, or by kind and name.",
        discussion: """
            With -f, only each document's kind and metadata are read. A resource that does not \
            exist is an error (exit 1) unless --ignore-not-found is given.
            """)

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "Resource kind, e.g. VirtualService or vs (not with -f).")
    var kind: String?

    @Argument(help: "Names of the resources to delete (not with -f).")
    var names: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("File, directory or '-' (repeatable).", valueName: "file"))
    var filename: [String] = []

    @Option(name: .shortAndLong, help: "Namespace for KIND NAME (default: default).")
    var namespace: String?

    @Flag(help: "Treat a resource that does not exist as deleted.")
    var ignoreNotFound = false

    func validate() throws {
        if !filename.isEmpty {
            guard kind == nil else { throw ValidationError("give either -f FILE or KIND NAME, not both") }
            // The delete endpoint reads namespaces from the documents; silently ignoring -n would
            // delete something other than what the user meant.
            guard namespace == nil else {
                throw ValidationError("--namespace cannot be used with -f: set metadata.namespace in the file")
            }
        } else {
            guard kind != nil, !names.isEmpty else { throw ValidationError("give -f FILE or KIND NAME") }
        }
    }

    func run() async throws {
        let missing = try await AdminClient.withClient(root.global) { client in
            filename.isEmpty ? try await deleteByName(client) : try await deleteFiles(client)
        }
        if missing > 0 && !ignoreNotFound { throw ExitCode.failure }
    }

    /// Deletes what each file names; returns how many resources did not exist.
    private func deleteFiles(_ client: AdminClient) async throws -> Int {
        var missing = 0
        for source in try ManifestSource.load(filename) {
            missing += report(try await client.delete(source).results)
        }
        return missing
    }

    /// Deletes KIND NAME... one request each; returns how many did not exist.
    private func deleteByName(_ client: AdminClient) async throws -> Int {
        guard let kind else { return 0 }
        let namespace = self.namespace ?? GetCommand.defaultNamespace
        var missing = 0
        for name in names {
            do {
                if GetCommand.namesSecrets(kind) {
                    let answer = try await client.deleteSecret(namespace: namespace, name: name)
                    for warning in answer.warnings { Console.warning(warning) }
                    missing += report(answer.results)
                    continue
                }
                missing += report(try await client.deleteResource(kind: kind, namespace: namespace, name: name).results)
            } catch let error as MeshctlError where error.isNotFound {
                // Keep going so `delete vs a b c` deletes what exists, as kubectl does.
                if !ignoreNotFound { Console.error(error.message) }
                missing += 1
            }
        }
        return missing
    }

    /// Prints one line per deleted resource and an error per missing one; returns the missing count.
    private func report(_ results: [ResourceResult]) -> Int {
        var missing = 0
        for result in results {
            if result.isNotFound {
                missing += 1
                if !ignoreNotFound { Console.error(result.line) }
            } else {
                Console.out(result.line + "\n")
            }
        }
        return missing
    }
}
