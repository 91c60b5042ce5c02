# Renders BOSH job templates (ERB) for bosh_core.templates.
#
# Protocol: every line on stdin is one JSON request
#   {"instances": [{"context": {...}, "templates": [{"job", "name", "source", "destination"}]}]}
# and gets one JSON line on stdout
#   {"instances": [{"templates": [{"job", "name", "text"|"base64"} | {"job", "name", "error", "line"}]}]}
# so one ruby process renders every instance of a deploy. The context is the director's template
# spec: "properties" and "links" are keyed by job name and picked per job, as the director does.
# The template API (p, if_p, link, if_link, spec) follows the reference's EvaluationContext.

require "base64"
require "erb"
require "json"
require "ostruct"
require "shellwords"

begin
  require "active_support"
  require "active_support/core_ext/object/blank"
rescue LoadError
  # The reference loads ActiveSupport for blank?/present?; templates use only those two.
  class Object
    def blank?() respond_to?(:empty?) ? !!empty? : !self end
    def present?() !blank? end
  end
  class String
    def blank?() strip.empty? end
  end
end

module BoshTemplates
  class UnknownProperty < StandardError
    def initialize(names) super("Can't find property '#{names}'") end
  end

  class UnknownLink < StandardError
    def initialize(name) super("Can't find link '#{name}'") end
  end

  module PropertyLookup
    def lookup_property(collection, name)
      return nil if collection.nil?
      name.split(".").reduce(collection) do |ref, key|
        value = ref[key]
        return nil if value.nil?
        value
      end
    end

    def p(*args)
      names = Array(args[0])
      names.each do |name|
        value = lookup_property(property_source, name)
        return value unless value.nil?
      end
      return args[1] if args.length == 2
      raise UnknownProperty.new(names)
    end

    def if_p(*names)
      values = names.map do |name|
        value = lookup_property(property_source, name)
        return ActiveElseBlock.new(self) if value.nil?
        value
      end
      yield(*values)
      InactiveElseBlock.new
    end
  end

  class ActiveElseBlock
    def initialize(context) @context = context end
    def else() yield end
    def else_if_p(*names, &block) @context.if_p(*names, &block) end
    def else_if_link(name, &block) @context.if_link(name, &block) end
  end

  class InactiveElseBlock
    def else() end
    def else_if_p(*_names) InactiveElseBlock.new end
    def else_if_link(_name) InactiveElseBlock.new end
  end

  class LinkInstance
    include PropertyLookup
    attr_reader :name, :index, :id, :az, :address, :properties, :bootstrap

    def initialize(spec)
      @name, @index, @id, @az = spec["name"], spec["index"], spec["id"], spec["az"]
      @address, @properties, @bootstrap = spec["address"], spec["properties"], spec["bootstrap"]
    end

    def property_source() @properties end
  end

  class Link
    include PropertyLookup
    attr_reader :instances, :properties

    def initialize(spec)
      @instances = spec["instances"].map { |instance| LinkInstance.new(instance) }
      @properties = spec["properties"]
      @address = spec["address"]
    end

    def property_source() @properties end

    # The director gives a link the DNS name that resolves to its instances; without one
    # (no local DNS) there is nothing to answer, as the reference CLI says.
    def address(_criteria = {})
      raise NotImplementedError, "link.address requires bosh director" if @address.nil?
      @address
    end
  end

  # OpenStruct as templates know it, built lazily: OpenStruct.new defines two singleton
  # methods per key, which made building `spec` (with its links) cost milliseconds per
  # template. Fields answer through OpenStruct's method_missing instead; only a key that
  # shadows an existing method gets the accessor OpenStruct would have defined.
  class LazyOpenStruct < OpenStruct
    def initialize(hash)
      @table = {}
      hash.each_pair do |key, value|
        key = key.to_sym
        new_ostruct_member!(key) if respond_to?(key, true)
        @table[key] = value
      end
    end

    def respond_to_missing?(name, include_private = false)
      @table.key?(name.to_s.chomp("=").to_sym) || super
    end
  end

  # What `spec` is in a template: nested hashes answer methods (spec.networks.default.ip).
  class SpecStruct < LazyOpenStruct
    def methods(regular = true)
      regular ? super(regular) : marshal_dump.keys.map(&:to_sym)
    end
  end

  class Context
    include PropertyLookup
    attr_reader :name, :index, :properties, :raw_properties, :spec

    def initialize(spec)
      @name = spec["name"]
      @index = spec["index"]
      @raw_properties = spec["properties"] || {}
      @properties = Context.openstruct(@raw_properties, LazyOpenStruct)
      @links = spec["links"] || {}
      @spec = Context.openstruct(spec, SpecStruct)
    end

    def self.openstruct(object, klass)
      case object
      when Hash then klass.new(object.transform_values { |value| openstruct(value, klass) })
      when Array then object.map { |item| openstruct(item, klass) }
      else object
      end
    end

    def property_source() @raw_properties end

    def get_binding() binding end

    def link(name)
      spec = lookup_property(@links, name)
      raise UnknownLink.new(name) if spec.nil? || !spec.key?("instances")
      Link.new(spec)
    end

    def if_link(name)
      spec = lookup_property(@links, name)
      return ActiveElseBlock.new(self) if spec.nil? || !spec.key?("instances")
      yield Link.new(spec)
      InactiveElseBlock.new
    end
  end

  # The spec one job sees: its own properties, links and release (the director picks them the
  # same way when properties_need_filtering is set).
  def self.job_spec(context, job)
    spec = context.reject { |key, _| %w[properties links releases].include?(key) }
    spec["properties"] = (context["properties"] || {})[job] || {}
    spec["links"] = (context["links"] || {})[job] || {}
    spec["release"] = (context["releases"] || {})[job]
    spec
  end

  @compiled = {}

  # A template is compiled once per process, however many instances render it.
  def self.compile(filename, source)
    @compiled[[filename, source]] ||= begin
      erb = ERB.new(source, trim_mode: "-")
      erb.filename = filename
      erb
    end
  end

  def self.error_line(error, filename)
    if error.is_a?(SyntaxError)
      match = error.message.match(/#{Regexp.escape(filename)}:(\d+)/)
      return match ? match[1] : "(unknown)"
    end
    frame = (error.backtrace || []).find { |line| line.include?(filename) }
    frame ? frame.split(":")[1] : "(unknown)"
  end

  def self.render_template(template, job_spec_json)
    filename = File.join(template["job"], template["name"])
    result = { "job" => template["job"], "name" => template["name"] }
    begin
      # A fresh context per template: one template cannot change what the next one sees.
      context = Context.new(JSON.parse(job_spec_json))
      text = compile(filename, template["source"]).result(context.get_binding)
      text = text.dup.force_encoding(Encoding::UTF_8)
      if text.valid_encoding?
        result["text"] = text
      else
        result["base64"] = Base64.strict_encode64(text)
      end
    rescue Exception => e # rubocop:disable Lint/RescueException -- the reference reports every failure
      result["error"] = e.message.to_s.dup.force_encoding(Encoding::UTF_8).scrub
      result["line"] = error_line(e, filename)
    end
    result
  end

  def self.render_instance(instance)
    job_specs = {}
    templates = instance["templates"].map do |template|
      job = template["job"]
      job_specs[job] ||= JSON.generate(job_spec(instance["context"], job))
      render_template(template, job_specs[job])
    end
    { "templates" => templates }
  end

  def self.serve(input, output)
    input.each_line do |line|
      next if line.strip.empty?
      request = JSON.parse(line)
      response = { "instances" => request["instances"].map { |instance| render_instance(instance) } }
      output.write(JSON.generate(response))
      output.write("\n")
      output.flush
    end
  end
end

# Templates are arbitrary Ruby: what they print must not reach the protocol stream, and what
# they read must not come from it.
# Reopening the descriptors covers STDOUT.puts and commands templates run, too.
protocol_in = STDIN.dup
protocol_out = STDOUT.dup
STDIN.reopen(File::NULL)
STDOUT.reopen(STDERR)
BoshTemplates.serve(protocol_in, protocol_out)
